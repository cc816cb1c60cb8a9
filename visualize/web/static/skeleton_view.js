// The 3-D scene shared by the live page and the clip viewer of the review page.
//
// World: metres, Y up, the floor at y = 0 (the project's convention). A SkeletonScene owns the
// renderer, a floor with a grid and soft shadows, lights, a camera the user orbits (OrbitControls)
// and that follows a point (follow()). Figures draws any number of stick figures (bones as
// capsules, joints as spheres) with two InstancedMeshes, so 50 characters cost two draw calls.
// Trail draws a path on the floor; FootMarks draws foot contacts. Nothing here knows about models
// or sockets: callers hand in joint positions and a parent list.
import * as THREE from 'three';
import { OrbitControls } from './vendor/three/OrbitControls.js';

export const PALETTE = [0x2f6fdf, 0xe0663a, 0x2e9e5b, 0x9b59b6, 0xc9a227, 0x16a2b8, 0xd6457a, 0x6d7b8a];

export function webglAvailable() {
  try {
    const c = document.createElement('canvas');
    return !!(c.getContext('webgl2') || c.getContext('webgl'));
  } catch (e) {
    return false;
  }
}

export class SkeletonScene {
  // container: an element the canvas fills. options: {shadows: true, background: 0xeef1f4}
  constructor(container, options = {}) {
    const shadows = options.shadows !== false;
    this.container = container;
    this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: !!options.preserveDrawingBuffer });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.renderer.shadowMap.enabled = shadows;
    this.renderer.shadowMap.type = THREE.PCFSoftShadowMap;
    container.appendChild(this.renderer.domElement);
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(options.background ?? 0xeef1f4);
    this.scene.fog = new THREE.Fog(this.scene.background, 25, 60);
    this.camera = new THREE.PerspectiveCamera(45, 1, 0.05, 200);
    this.camera.position.set(0, 2.2, -5);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.target.set(0, 0.9, 0);
    this.controls.enableDamping = true;
    this.controls.maxPolarAngle = Math.PI * 0.495;
    this.controls.minDistance = 1.0;
    this.controls.maxDistance = 40;
    this.controls.update();

    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x8a8f96, 1.6));
    const sun = new THREE.DirectionalLight(0xffffff, 1.8);
    sun.position.set(4, 9, -3);
    sun.castShadow = shadows;
    sun.shadow.mapSize.set(1024, 1024);
    const s = sun.shadow.camera;
    s.left = -8; s.right = 8; s.top = 8; s.bottom = -8; s.near = 0.5; s.far = 30;
    sun.shadow.bias = -0.0005;
    this.sun = sun;
    this.scene.add(sun);
    this.scene.add(sun.target);

    // the floor: a 1 m grid drawn into a repeating texture (lines as geometry crossing the camera
    // plane are dropped by some software renderers; a texture is drawn the same everywhere)
    const tile = document.createElement('canvas');
    tile.width = tile.height = 128;
    const g = tile.getContext('2d');
    g.fillStyle = '#dfe3e8'; g.fillRect(0, 0, 128, 128);
    g.fillStyle = '#bcc4cd'; g.fillRect(0, 0, 128, 2); g.fillRect(0, 0, 2, 128);
    const grid = new THREE.CanvasTexture(tile);
    grid.wrapS = grid.wrapT = THREE.RepeatWrapping;
    grid.repeat.set(400, 400);
    grid.colorSpace = THREE.SRGBColorSpace;
    grid.anisotropy = this.renderer.capabilities.getMaxAnisotropy();
    const floor = new THREE.Mesh(new THREE.PlaneGeometry(400, 400),
      new THREE.MeshStandardMaterial({ map: grid, roughness: 0.95 }));
    floor.rotation.x = -Math.PI / 2;
    floor.receiveShadow = true;
    floor.name = 'floor';
    this.floor = floor;
    this.scene.add(floor);

    this._resize = () => this.resize();
    window.addEventListener('resize', this._resize);
    this.resize();
  }

  resize() {
    const w = this.container.clientWidth || 640, h = this.container.clientHeight || 360;
    this.renderer.setSize(w, h, false);
    this.renderer.domElement.style.width = '100%';
    this.renderer.domElement.style.height = '100%';
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
  }

  // Move the orbit target to (x, y, z), carrying the camera along (the user's orbit is kept).
  // smoothing in [0, 1): fraction of the remaining distance left for later frames.
  follow(x, y, z, smoothing = 0.0) {
    const t = this.controls.target;
    const k = 1.0 - smoothing;
    const dx = (x - t.x) * k, dy = (y - t.y) * k, dz = (z - t.z) * k;
    t.x += dx; t.y += dy; t.z += dz;
    this.camera.position.x += dx; this.camera.position.y += dy; this.camera.position.z += dz;
    this.sun.position.set(t.x + 4, 9, t.z - 3);
    this.sun.target.position.set(t.x, 0, t.z);
  }

  // Place the camera behind a point looking along heading theta (forward = (sin, cos)).
  lookFromBehind(x, z, theta, distance = 5, height = 2.2) {
    this.controls.target.set(x, 0.9, z);
    this.camera.position.set(x - distance * Math.sin(theta), height, z - distance * Math.cos(theta));
    this.controls.update();
  }

  // The floor point (x, z) under a pixel of the canvas, or null.
  floorPoint(clientX, clientY) {
    const r = this.renderer.domElement.getBoundingClientRect();
    const ndc = new THREE.Vector2(((clientX - r.left) / r.width) * 2 - 1, -((clientY - r.top) / r.height) * 2 + 1);
    const ray = new THREE.Raycaster();
    ray.setFromCamera(ndc, this.camera);
    const hit = new THREE.Vector3();
    const plane = new THREE.Plane(new THREE.Vector3(0, 1, 0), 0);
    return ray.ray.intersectPlane(plane, hit) ? [hit.x, hit.z] : null;
  }

  // Horizontal forward and right unit vectors of the camera ([x, z] each).
  cameraAxes() {
    const f = new THREE.Vector3();
    this.camera.getWorldDirection(f);
    let fx = f.x, fz = f.z;
    const n = Math.hypot(fx, fz) || 1;
    fx /= n; fz /= n;
    return { forward: [fx, fz], right: [-fz, fx] };
  }

  render() {
    this.controls.update();
    this.renderer.render(this.scene, this.camera);
  }

  dispose() {
    window.removeEventListener('resize', this._resize);
    this.controls.dispose();
    this.renderer.dispose();
  }
}

// count stick figures sharing one parent list; colours per figure (hex numbers).
export class Figures {
  constructor(view, count, parents, colors = PALETTE, radius = 0.035) {
    this.count = count;
    this.parents = parents;
    this.joints = parents.length;
    this.bones = [];
    parents.forEach((p, j) => { if (p >= 0) this.bones.push([p, j]); });
    const boneGeo = new THREE.CylinderGeometry(radius, radius, 1, 10, 1);
    const jointGeo = new THREE.SphereGeometry(radius * 1.45, 12, 8);
    const mat = new THREE.MeshStandardMaterial({ roughness: 0.55, metalness: 0.05 });
    this.boneMesh = new THREE.InstancedMesh(boneGeo, mat, Math.max(1, count * this.bones.length));
    this.jointMesh = new THREE.InstancedMesh(jointGeo, mat, Math.max(1, count * this.joints));
    for (const m of [this.boneMesh, this.jointMesh]) {
      m.castShadow = true;
      m.frustumCulled = false;
      m.instanceMatrix.setUsage(THREE.DynamicDrawUsage);
      view.scene.add(m);
    }
    const c = new THREE.Color();
    for (let i = 0; i < count; i++) {
      c.setHex(colors[i % colors.length]);
      for (let b = 0; b < this.bones.length; b++) this.boneMesh.setColorAt(i * this.bones.length + b, c);
      for (let j = 0; j < this.joints; j++) this.jointMesh.setColorAt(i * this.joints + j, c);
    }
    this._m = new THREE.Matrix4();
    this._q = new THREE.Quaternion();
    this._a = new THREE.Vector3();
    this._b = new THREE.Vector3();
    this._d = new THREE.Vector3();
    this._s = new THREE.Vector3();
    this._up = new THREE.Vector3(0, 1, 0);
    this.visible = new Array(count).fill(true);
  }

  // Pose of figure i: positions[offset + 3*j + (0,1,2)] = joint j (metres); dx, dz shift it.
  setPose(i, positions, offset = 0, dx = 0, dz = 0) {
    const { _m: m, _q: q, _a: a, _b: b, _d: d, _s: s } = this;
    for (let j = 0; j < this.joints; j++) {
      const o = offset + 3 * j;
      m.makeTranslation(positions[o] + dx, positions[o + 1], positions[o + 2] + dz);
      this.jointMesh.setMatrixAt(i * this.joints + j, m);
    }
    for (let k = 0; k < this.bones.length; k++) {
      const [p, j] = this.bones[k];
      a.set(positions[offset + 3 * p] + dx, positions[offset + 3 * p + 1], positions[offset + 3 * p + 2] + dz);
      b.set(positions[offset + 3 * j] + dx, positions[offset + 3 * j + 1], positions[offset + 3 * j + 2] + dz);
      d.subVectors(b, a);
      const len = d.length();
      if (len > 1e-6) q.setFromUnitVectors(this._up, d.multiplyScalar(1 / len)); else q.identity();
      s.set(1, Math.max(len, 1e-6), 1);
      a.add(b).multiplyScalar(0.5);
      m.compose(a, q, s);
      this.boneMesh.setMatrixAt(i * this.bones.length + k, m);
    }
  }

  update() {
    this.boneMesh.instanceMatrix.needsUpdate = true;
    this.jointMesh.instanceMatrix.needsUpdate = true;
  }
}

// A polyline on the floor (the path travelled, or a planned path), up to maxPoints points.
export class Trail {
  constructor(view, maxPoints, color = 0x2f6fdf, opacity = 0.8) {
    this.max = maxPoints;
    this.positions = new Float32Array(maxPoints * 3);
    this.geometry = new THREE.BufferGeometry();
    this.geometry.setAttribute('position', new THREE.BufferAttribute(this.positions, 3).setUsage(THREE.DynamicDrawUsage));
    this.geometry.setDrawRange(0, 0);
    this.line = new THREE.Line(this.geometry, new THREE.LineBasicMaterial({ color, transparent: true, opacity }));
    this.line.frustumCulled = false;
    view.scene.add(this.line);
    this.n = 0;
  }

  push(x, z) {
    if (this.n === this.max) {
      this.positions.copyWithin(0, 3);
      this.n -= 1;
    }
    this.positions[3 * this.n] = x; this.positions[3 * this.n + 1] = 0.01; this.positions[3 * this.n + 2] = z;
    this.n += 1;
    this.geometry.setDrawRange(0, this.n);
    this.geometry.attributes.position.needsUpdate = true;
  }

  // Replace the whole line: xz = [[x, z], ...]
  set(xz) {
    this.n = 0;
    for (const [x, z] of xz.slice(-this.max)) this.push(x, z);
  }

  clear() {
    this.n = 0;
    this.geometry.setDrawRange(0, 0);
  }
}

// The intended direction of a character: an arrow on the floor from its root.
export class IntentArrow {
  constructor(view, color = 0x1d232b) {
    this.arrow = new THREE.ArrowHelper(new THREE.Vector3(0, 0, 1), new THREE.Vector3(), 1, color, 0.25, 0.15);
    this.arrow.visible = false;
    view.scene.add(this.arrow);
    this._v = new THREE.Vector3();
  }

  // From (x, z) along velocity (vx, vz) m/s: length = speed in seconds of travel (min 0.4 m)
  set(x, z, vx, vz) {
    const speed = Math.hypot(vx, vz);
    if (speed < 1e-3) { this.arrow.visible = false; return; }
    this.arrow.visible = true;
    this.arrow.position.set(x, 0.02, z);
    this.arrow.setDirection(this._v.set(vx / speed, 0, vz / speed));
    this.arrow.setLength(Math.max(0.4, speed), 0.25, 0.15);
  }
}

// Foot contacts: a flat disc under each foot joint while it is in contact.
export class FootMarks {
  constructor(view, count, color = 0xd6457a) {
    const geo = new THREE.CircleGeometry(0.07, 20);
    geo.rotateX(-Math.PI / 2);
    this.mesh = new THREE.InstancedMesh(geo, new THREE.MeshBasicMaterial({ color }), Math.max(1, count));
    this.mesh.frustumCulled = false;
    this.mesh.instanceMatrix.setUsage(THREE.DynamicDrawUsage);
    view.scene.add(this.mesh);
    this._m = new THREE.Matrix4();
    this._zero = new THREE.Matrix4().makeScale(0, 0, 0);
  }

  set(i, on, x, z) {
    if (on) this._m.makeTranslation(x, 0.004, z); 
    this.mesh.setMatrixAt(i, on ? this._m : this._zero);
  }

  update() { this.mesh.instanceMatrix.needsUpdate = true; }
}
