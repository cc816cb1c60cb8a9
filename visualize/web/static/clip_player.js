// The clip viewer of the review page: every element <div class="clip-viewer" data-clip="URL.json">
// becomes a 3-D view of the clip (generated samples and the mocap take side by side, in sync) with
// play/pause, a scrub bar, a speed choice, orbiting, the paths on the floor and foot contacts when
// the clip has them. The JSON comes from visualize/web/clip_json.py.
// window.moglowViewers[i] mirrors each viewer's state (for tests).
import { SkeletonScene, Figures, Trail, FootMarks, PALETTE, webglAvailable } from './skeleton_view.js';

const SPACING = 1.2;   // metres between figures shown side by side
const MOCAP_COLOR = 0x5d6670;

window.moglowViewers = window.moglowViewers || [];

function el(tag, attrs = {}, text = '') {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

class ClipViewer {
  constructor(host, clip, state) {
    this.clip = clip;
    this.state = state;
    const n = clip.figures.length, J = clip.joints;
    this.offsets = clip.figures.map((_, i) => (i - (n - 1) / 2) * SPACING);
    const view = el('div', { class: 'view' });
    host.appendChild(view);
    this.scene = new SkeletonScene(view, { background: 0xf4f6f8 });
    const colors = clip.figures.map((f, i) => (f.kind === 'mocap' ? MOCAP_COLOR : PALETTE[i % PALETTE.length]));
    this.figures = new Figures(this.scene, n, clip.parents, colors);
    clip.figures.forEach((f, i) => {
      const t = new Trail(this.scene, f.path.length, colors[i], 0.6);
      t.set(f.path.map(([x, z]) => [x + this.offsets[i], z]));
    });
    const cj = clip.contact_joints || [];
    this.hasContacts = cj.length > 0 && clip.figures.some((f) => f.contacts);
    this.marks = this.hasContacts ? new FootMarks(this.scene, n * cj.length) : null;

    const bar = el('div', { class: 'controls' });
    this.playBtn = el('button', { type: 'button', class: 'play' }, 'pause');
    this.scrub = el('input', { type: 'range', class: 'scrub', min: '0', max: String(clip.frames - 1), step: '1', value: '0' });
    this.speedSel = el('select', { class: 'speed' });
    for (const s of [0.25, 0.5, 1, 2]) this.speedSel.add(new Option(`${s}×`, String(s), s === 1, s === 1));
    this.label = el('span', { class: 'time' });
    bar.append(this.playBtn, this.scrub, this.speedSel, this.label);
    host.appendChild(bar);
    const legend = el('div', { class: 'legend' });
    clip.figures.forEach((f, i) => {
      const sw = el('span');
      sw.style.background = '#' + colors[i].toString(16).padStart(6, '0');
      legend.append(sw, document.createTextNode(f.label));
    });
    if (this.hasContacts) legend.append(document.createTextNode(' · discs: foot contacts'));
    host.appendChild(legend);

    this.playBtn.addEventListener('click', () => this.setPlaying(!this.state.playing));
    this.scrub.addEventListener('input', () => { this.setPlaying(false); this.show(Number(this.scrub.value)); });
    this.speedSel.addEventListener('change', () => { this.state.speed = Number(this.speedSel.value); });

    const r = this.rootAt(0);
    this.scene.controls.target.set(r[0], 0.9, r[1]);
    this.scene.camera.position.set(r[0] + 3.4, 2.0, r[1] - 3.4);
    this.time = 0;
    this.last = performance.now();
    this.state.ready = true;
    this.state.frames = clip.frames;
    this.state.figures = n;
    this.state.contacts = this.hasContacts;
    this.setPlaying(true);
    this.show(0);
    const loop = (now) => {
      requestAnimationFrame(loop);
      const dt = Math.max(0, Math.min(0.1, (now - this.last) / 1000));  // rAF time may precede this.last
      this.last = now;
      if (this.state.playing) {
        this.time = (this.time + dt * this.state.speed) % (clip.frames / clip.fps);
        this.show(Math.floor(this.time * clip.fps) % clip.frames, false);
      }
      this.scene.render();
    };
    requestAnimationFrame(loop);
  }

  // mean root (x, z) of the figures at frame f, offsets included
  rootAt(f) {
    let x = 0, z = 0, k = 0;
    this.clip.figures.forEach((fig, i) => {
      const p = fig.path[Math.min(f, fig.path.length - 1)];
      x += p[0] + this.offsets[i]; z += p[1]; k += 1;
    });
    return [x / k, z / k];
  }

  setPlaying(on) {
    this.state.playing = on;
    this.playBtn.textContent = on ? 'pause' : 'play';
    if (on) this.time = this.state.frame / this.clip.fps;
  }

  show(f, fromScrub = true) {
    f = Math.max(0, Math.min(this.clip.frames - 1, f | 0));
    const clip = this.clip, J = clip.joints, cj = clip.contact_joints || [];
    this.state.frame = f;
    if (fromScrub) this.time = f / clip.fps;
    this.scrub.value = String(f);
    this.label.textContent = `${(f / clip.fps).toFixed(2)} s / ${(clip.frames / clip.fps).toFixed(2)} s`;
    let shownContacts = 0;
    clip.figures.forEach((fig, i) => {
      const frames = fig.positions.length / (3 * J);
      const g = Math.min(f, frames - 1);
      this.figures.setPose(i, fig.positions, g * 3 * J, this.offsets[i], 0);
      if (this.marks) {
        cj.forEach((j, k) => {
          const on = !!(fig.contacts && fig.contacts[g * cj.length + k]);
          const o = g * 3 * J + 3 * j;
          this.marks.set(i * cj.length + k, on, fig.positions[o] + this.offsets[i], fig.positions[o + 2]);
          shownContacts += on ? 1 : 0;
        });
      }
    });
    this.state.contactsShown = shownContacts;
    this.figures.update();
    if (this.marks) this.marks.update();
    const r = this.rootAt(f);
    this.scene.follow(r[0], 0.9, r[1], 0.9);
  }
}

async function mount(host) {
  const state = { ready: false, frame: 0, playing: false, speed: 1, frames: 0, error: null, src: host.dataset.clip };
  window.moglowViewers.push(state);
  if (!webglAvailable()) {
    host.append(el('p', { class: 'nowebgl' }, 'WebGL is not available in this browser; the video above shows the clip.'));
    state.error = 'no WebGL';
    return;
  }
  try {
    const resp = await fetch(host.dataset.clip);
    if (!resp.ok) throw new Error(`${host.dataset.clip}: HTTP ${resp.status}`);
    new ClipViewer(host, await resp.json(), state);
  } catch (e) {
    state.error = String(e);
    host.append(el('p', { class: 'nowebgl' }, `3-D viewer unavailable: ${e}`));
    console.warn(e);
  }
}

// Viewers start when they first scroll into view (a page may hold many clips).
const pending = Array.from(document.querySelectorAll('.clip-viewer[data-clip]'));
if ('IntersectionObserver' in window) {
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (e.isIntersecting) { io.unobserve(e.target); mount(e.target); }
    }
  }, { rootMargin: '200px' });
  pending.forEach((h) => io.observe(h));
} else {
  pending.forEach(mount);
}
