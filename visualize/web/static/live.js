// The live page: draws the characters the server streams and sends the user's input.
//
// Protocol (moglow/live/protocol.py): JSON text messages both ways, and one binary frame per
// generated frame from the server: uint32 [magic, frame, B, J], then float32 [B, 3J + 8]
// (joints, root x, z, heading, speed, intended vx, vz, last input seq applied, mode).
// Input is camera-relative: W walks away from the camera, D to the screen's right.
// window.moglowState mirrors what the page knows, for tests and curious users.
import { SkeletonScene, Figures, Trail, IntentArrow, PALETTE, webglAvailable } from './skeleton_view.js';

const MAGIC = 0x464C474D;
const HEARTBEAT_MS = 250;   // repeat a held input this often (the server lets it lapse after 1 s)
const TRAIL_POINTS = 600;

const state = window.moglowState = {
  connected: false, hello: null, frame: -1, framesReceived: 0, characters: [], selected: 0,
  stats: null, recordings: [], errors: [], sent: 0, seq: 0, webgl: false, inputs: {},
};

const $ = (id) => document.getElementById(id);
const view = $('view');
let scene = null, figures = null, trails = [], arrows = [];
let ws = null, latest = null, cameraPlaced = false;

// ---------------------------------------------------------------- connection
function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  ws = new WebSocket(`${proto}//${location.host}/ws`);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => { state.connected = true; setStatus('connected', true); };
  ws.onclose = (e) => {
    state.connected = false;
    setStatus(`disconnected (${e.code}${e.reason ? ': ' + e.reason : ''}); reload to reconnect`, false);
  };
  ws.onerror = () => setStatus('connection error', false);
  ws.onmessage = (e) => {
    if (typeof e.data === 'string') onJson(JSON.parse(e.data)); else onFrame(e.data);
  };
}

function send(msg) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(msg));
  state.sent += 1;
  return true;
}

function setStatus(text, ok) {
  const el = $('status');
  el.textContent = text;
  el.className = 'status ' + (ok ? 'ok' : 'bad');
}

function onJson(msg) {
  if (msg.type === 'hello') onHello(msg);
  else if (msg.type === 'stats') {
    state.stats = msg;
    $('stats').textContent = `frame ${msg.frame} · model step ${msg.step_ms.toFixed(1)} ms · ${msg.clients} page(s) · ` +
      `frames dropped for this page ${msg.dropped} · late ticks ${msg.late_ticks}`;
  } else if (msg.type === 'recorded') onRecorded(msg);
  else if (msg.type === 'error') {
    state.errors.push(msg.message);
    console.warn('server: ' + msg.message);
  }
}

function onHello(h) {
  state.hello = h;
  const n = h.characters;
  state.characters = Array.from({ length: n }, () => ({ x: 0, z: 0, heading: 0, speed: 0, intended: [0, 0], ack: 0, mode: 0 }));
  const sel = $('character');
  sel.innerHTML = '';
  for (let i = 0; i < n; i++) sel.add(new Option(`${i + 1}${h.wander[i] ? ' (wandering)' : ''}`, String(i)));
  if (h.styles && h.styles.length) {
    $('style-row').hidden = false;
    const st = $('style');
    st.innerHTML = '';
    st.add(new Option('none', '-1'));
    h.styles.forEach((s, i) => st.add(new Option(s, String(i))));
  }
  $('speed').max = $('run-speed').max = String(h.limits.max_speed);
  if (state.webgl) {
    figures = new Figures(scene, n, h.parents);
    trails = Array.from({ length: n }, (_, i) => new Trail(scene, TRAIL_POINTS, PALETTE[i % PALETTE.length], 0.7));
    arrows = Array.from({ length: n }, () => new IntentArrow(scene));
  }
  select(0);
}

function onFrame(buf) {
  const head = new Uint32Array(buf, 0, 4);
  if (head[0] !== MAGIC) return;
  const B = head[2], J = head[3], K = 3 * J + 8;
  const data = new Float32Array(buf, 16, B * K);
  state.frame = head[1];
  state.framesReceived += 1;
  const now = performance.now();
  for (let i = 0; i < B && i < state.characters.length; i++) {
    const o = i * K + 3 * J, c = state.characters[i];
    c.x = data[o]; c.z = data[o + 1]; c.heading = data[o + 2]; c.speed = data[o + 3];
    c.intended = [data[o + 4], data[o + 5]]; c.ack = data[o + 6]; c.mode = data[o + 7];
    const inp = state.inputs[i];
    if (inp && inp.pendingSeq && c.ack >= inp.pendingSeq) {   // first frame that reacts to the press
      state.lastReaction = now - inp.pendingAt;
      inp.pendingSeq = 0;
    }
  }
  latest = { B, J, K, data };
}

// ---------------------------------------------------------------- input
const held = new Set();
const KEYS_MAIN = { forward: ['KeyW', 'ArrowUp'], back: ['KeyS', 'ArrowDown'], left: ['KeyA', 'ArrowLeft'], right: ['KeyD', 'ArrowRight'] };
const KEYS_SECOND = { forward: ['KeyI'], back: ['KeyK'], left: ['KeyJ'], right: ['KeyL'] };
const STEER_CODES = new Set([...Object.values(KEYS_MAIN).flat(), ...Object.values(KEYS_SECOND).flat()]);

function axes(map) {
  const on = (names) => names.some((k) => held.has(k)) ? 1 : 0;
  return [on(map.right) - on(map.left), on(map.forward) - on(map.back)];
}

// World direction [x, z] for a camera-relative [right, forward] input.
function worldDir([r, f]) {
  if (!r && !f) return [0, 0];
  let fwd = [0, 1], right = [-1, 0];
  if (scene) ({ forward: fwd, right } = scene.cameraAxes());
  let x = fwd[0] * f + right[0] * r, z = fwd[1] * f + right[1] * r;
  const n = Math.hypot(x, z);
  if (n > 1) { x /= n; z /= n; }
  return [x, z];
}

function sendMove(ch, dir, run, force) {
  const inp = state.inputs[ch] || (state.inputs[ch] = { dir: [0, 0], run: false, at: 0, pendingSeq: 0, pendingAt: 0 });
  const changed = Math.abs(dir[0] - inp.dir[0]) > 1e-3 || Math.abs(dir[1] - inp.dir[1]) > 1e-3 || run !== inp.run;
  const moving = dir[0] || dir[1];
  const now = performance.now();
  if (!changed && !(force && moving) && !(moving && now - inp.at > HEARTBEAT_MS)) return;
  state.seq = (state.seq + 1) % 16777216;
  if (send({ type: 'move', character: ch, seq: state.seq, dir, run })) {
    if (changed) { inp.pendingSeq = state.seq; inp.pendingAt = now; }
    inp.dir = dir; inp.run = run; inp.at = now;
  }
}

function pollInput(force = false) {
  if (!state.hello) return;
  const run = held.has('ShiftLeft') || held.has('ShiftRight');
  let main = axes(KEYS_MAIN);
  const pad = gamepadAxes();
  if (pad && !main[0] && !main[1]) main = pad.axes;
  if (!state.hello.wander[state.selected]) sendMove(state.selected, worldDir(main), run || !!(pad && pad.run), force);
  const second = state.selected === 1 ? 0 : 1;
  if (state.characters.length > 1 && !state.hello.wander[second]) sendMove(second, worldDir(axes(KEYS_SECOND)), run, force);
}

function gamepadAxes() {
  const pads = navigator.getGamepads ? navigator.getGamepads() : [];
  for (const p of pads) {
    if (!p || !p.connected || p.axes.length < 2) continue;
    let r = p.axes[0], f = -p.axes[1];
    const n = Math.hypot(r, f);
    if (n < 0.15) { r = 0; f = 0; } else if (n > 1) { r /= n; f /= n; }
    return { axes: [r, f], run: !!(p.buttons[0] && p.buttons[0].pressed) };
  }
  return null;
}

function select(i) {
  if (!state.hello || i < 0 || i >= state.hello.characters) return;
  if (state.selected !== i) sendMove(state.selected, [0, 0], false, true);
  state.selected = i;
  $('character').value = String(i);
  const h = state.hello;
  $('speed').value = h.walk_speed[i]; $('run-speed').value = h.run_speed[i];
  $('temperature').value = h.temperature[i]; $('wander').checked = !!h.wander[i];
  if (h.styles && h.styles.length) $('style').value = String(h.style[i]);
  showValues();
  const c = state.characters[i];
  if (scene && c) cameraPlaced = false;
}

function showValues() {
  $('speed-out').textContent = Number($('speed').value).toFixed(2);
  $('run-out').textContent = Number($('run-speed').value).toFixed(2);
  $('temp-out').textContent = Number($('temperature').value).toFixed(2);
}

window.addEventListener('keydown', (e) => {
  if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) {
    if (!STEER_CODES.has(e.code)) return;
    e.target.blur();
  }
  if (/^Digit[1-9]$/.test(e.code)) { select(Number(e.code.slice(5)) - 1); return; }
  if (STEER_CODES.has(e.code) || e.code.startsWith('Shift')) {
    e.preventDefault();
    held.add(e.code);
    pollInput();
  }
});
window.addEventListener('keyup', (e) => {
  held.delete(e.code);
  pollInput();
});
window.addEventListener('blur', () => { held.clear(); pollInput(); });

function settings(extra) {
  const i = state.selected;
  send({ type: 'settings', character: i, ...extra });
}

$('character').addEventListener('change', (e) => select(Number(e.target.value)));
$('speed').addEventListener('input', (e) => {
  showValues(); state.hello.walk_speed[state.selected] = Number(e.target.value);
  settings({ speed: Number(e.target.value) });
});
$('run-speed').addEventListener('input', (e) => {
  showValues(); state.hello.run_speed[state.selected] = Number(e.target.value);
  settings({ run_speed: Number(e.target.value) });
});
$('temperature').addEventListener('input', (e) => {
  showValues(); state.hello.temperature[state.selected] = Number(e.target.value);
  settings({ temperature: Number(e.target.value) });
});
$('style').addEventListener('change', (e) => {
  state.hello.style[state.selected] = Number(e.target.value);
  settings({ style: Number(e.target.value) });
});
$('wander').addEventListener('change', (e) => {
  state.hello.wander[state.selected] = e.target.checked;
  send({ type: 'wander', character: state.selected, on: e.target.checked });
});
$('record').addEventListener('click', () => {
  const seconds = Math.min(120, Math.max(1, Number($('record-seconds').value) || 10));
  send({ type: 'record', character: state.selected, seconds });
  $('record').disabled = true;
  setTimeout(() => { $('record').disabled = false; }, 500);
});
$('reset').addEventListener('click', () => {
  send({ type: 'reset', character: state.selected });
  if (trails[state.selected]) trails[state.selected].clear();
  cameraPlaced = false;
});

function onRecorded(msg) {
  state.recordings.push(msg);
  const li = document.createElement('li');
  const name = msg.bvh.split('/').pop();
  li.innerHTML = `character ${msg.character + 1}: <a href="${msg.bvh}" download>${name}</a> ` +
    `(${msg.frames} frames) · <a href="${msg.npz}" download>npz</a>`;
  $('recordings').prepend(li);
  const a = document.createElement('a');   // download the BVH right away
  a.href = msg.bvh; a.download = name; a.style.display = 'none';
  document.body.appendChild(a); a.click(); a.remove();
}

// click (not drag) on the floor: walk there
let down = null;
view.addEventListener('pointerdown', (e) => { down = { x: e.clientX, y: e.clientY, t: performance.now() }; view.focus(); });
view.addEventListener('pointerup', (e) => {
  if (!down || !scene) return;
  const moved = Math.hypot(e.clientX - down.x, e.clientY - down.y), dt = performance.now() - down.t;
  down = null;
  if (moved > 5 || dt > 400 || e.button !== 0) return;
  const p = scene.floorPoint(e.clientX, e.clientY);
  if (!p) return;
  state.seq = (state.seq + 1) % 16777216;
  send({ type: 'target', character: state.selected, seq: state.seq, point: p });
  state.lastTarget = p;
  if (state.hello.wander[state.selected]) { state.hello.wander[state.selected] = false; $('wander').checked = false; }
});

// ---------------------------------------------------------------- drawing
let lastDraw = 0;
function draw(now) {
  requestAnimationFrame(draw);
  const dt = lastDraw ? Math.max(0, Math.min(0.5, (now - lastDraw) / 1000)) : 0;
  lastDraw = now;
  pollInput();
  if (!scene) return;
  if (latest && figures) {
    const { B, J, K, data } = latest;
    for (let i = 0; i < B && i < figures.count; i++) {
      figures.setPose(i, data, i * K);
      const c = state.characters[i];
      const t = trails[i];
      const last = t.n ? [t.positions[3 * t.n - 3], t.positions[3 * t.n - 1]] : null;
      if (!last || Math.hypot(c.x - last[0], c.z - last[1]) > 0.05) t.push(c.x, c.z);
      arrows[i].set(c.x, c.z, c.intended[0], c.intended[1]);
    }
    figures.update();
    latest = null;
  }
  const c = state.framesReceived ? state.characters[state.selected] : null;
  if (c) {
    if (!cameraPlaced) { scene.lookFromBehind(c.x, c.z, c.heading); cameraPlaced = true; }
    scene.follow(c.x, 0.9, c.z, Math.exp(-dt / 0.25));  // time-based: the same lag at any frame rate
  }
  scene.render();
}

function start() {
  state.webgl = webglAvailable();
  if (state.webgl) {
    scene = new SkeletonScene(view, { preserveDrawingBuffer: true });
    window.moglowScene = scene;
  } else {
    view.innerHTML = '<p style="padding:2rem">WebGL is not available in this browser: the characters cannot be drawn, ' +
      'but steering and recording still work.</p>';
    console.warn('WebGL not available');
  }
  showValues();
  connect();
  requestAnimationFrame(draw);
  view.focus();
}

start();
