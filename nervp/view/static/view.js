// nervp view: the page. Loads scene.js/scene.json and the frame textures, keeps the state in
// the URL hash (#look=rembrandt&rot=90&exposure=0), and redraws on every change.
//
// Hash keys: look (a look, a named environment, or "dropped"), rot (degrees about the
// vertical axis, as `nervp relight --rotate`), tilt (degrees about the camera's horizontal
// axis, as --tilt), spread (voronoi or smooth, as --spread), exposure (stops, as --ev), auto (1: meter the
// exposure on the shown frame as `nervp relight` meters a clip; 0: 2^exposure alone, as
// --no-auto-exposure), bg (env, black, image, none), frame (shown frame), play (1 or 0).
(function (global) {
  'use strict';
  const Lt = global.NervpLighting, Hdr = global.NervpHDR;
  const $ = (id) => document.getElementById(id);
  const DEFAULTS = { look: 'studio', rot: 0, tilt: 0, exposure: 0, auto: 1, bg: 'env', spread: 'voronoi', frame: 0, play: 1 };

  const view = {
    ready: false, error: null, state: { ...DEFAULTS }, scene: null, renderer: null,
    frames: [], dropped: null, ledWeights: null, basisWeights: null, meteredExposure: 1, drawCount: 0,
  };
  global.nervpView = view;

  function message(text, isError) {
    const m = $('message');
    m.textContent = text || '';
    m.className = isError ? 'error' : '';
    if (isError) view.error = text;
  }

  // --- state <-> URL -------------------------------------------------------------------------
  function parseHash() {
    const s = { ...DEFAULTS };
    const q = new URLSearchParams(location.hash.replace(/^#/, ''));
    for (const [k, v] of q) {
      if (!(k in DEFAULTS)) continue;
      if (typeof DEFAULTS[k] === 'number') {
        const n = Number(v);
        if (Number.isFinite(n)) s[k] = n;
      } else s[k] = v;
    }
    return s;
  }

  function writeHash() {
    const s = view.state, q = new URLSearchParams();
    for (const k of Object.keys(DEFAULTS)) q.set(k, typeof s[k] === 'number' ? +s[k].toFixed(3) : s[k]);
    history.replaceState(null, '', '#' + q.toString());
  }

  // --- lighting --------------------------------------------------------------------------------
  // rotate_lighting(rotate_lighting(lighting, tilt, x axis), rot): R = R_y(rot) R_x(tilt)
  function rotation() {
    return Lt.matmul(Lt.rotationMatrix([0, 1, 0], view.state.rot), Lt.rotationMatrix([1, 0, 0], view.state.tilt));
  }

  function currentLighting() {
    const sc = view.scene, name = view.state.look;
    if (name === 'dropped') {
      if (!view.dropped) throw new Error('no map has been dropped: drop an .hdr or .exr file on the page');
      return { kind: 'env', env: view.dropped };
    }
    if (sc.looks[name]) return { kind: 'look', look: sc.looks[name] };
    if (view.envs[name]) return { kind: 'env', env: view.envs[name] };
    throw new Error(`unknown lighting ${name}; choose one of ${Object.keys(sc.looks).concat(Object.keys(view.envs)).join(', ')}`);
  }

  function updateLighting() {
    const lt = currentLighting(), R = rotation();
    let bgEnv;
    if (lt.kind === 'look') {
      view.ledWeights = Lt.lookWeights(lt.look, R, view.scene);
      bgEnv = Lt.backdropEnv(lt.look, R);
    } else {
      bgEnv = { ...lt.env, rotation: R };
      if (view.state.spread !== 'voronoi' && view.state.spread !== 'smooth') {
        throw new Error(`unknown spread ${view.state.spread}; choose voronoi or smooth`);
      }
      view.ledWeights = Lt.envWeights(bgEnv, view.scene, view.state.spread);
    }
    view.basisWeights = Lt.basisWeights(view.ledWeights, view.scene);
    if (view.bgEnvSource !== bgEnv.radiance) {
      view.renderer.setEnv(bgEnv);
      view.bgEnvSource = bgEnv.radiance;
    }
    view.worldToMap = Lt.transpose(R);
  }

  // nervp.colour.metered_exposure on the shown frame: the performer's (alpha > 0.5) log-average
  // luminance to `key`, unless its 99.9th percentile would pass `white`.
  function meter(frame) {
    const sc = view.scene, { rank: K, height: H, width: W } = sc, n = H * W, v = view.basisWeights;
    const half = Hdr.HALF, ys = [];
    let logSum = 0;
    for (let i = 0; i < n; i++) {
      if (sc.has_alpha && !(half[frame[K * n * 3 + i]] > 0.5)) continue;
      let r = 0, g = 0, b = 0;
      for (let k = 0; k < K; k++) {
        const o = (k * n + i) * 3;
        r += v[k * 3] * half[frame[o]]; g += v[k * 3 + 1] * half[frame[o + 1]]; b += v[k * 3 + 2] * half[frame[o + 2]];
      }
      const y = Math.fround(r * 0.2126 + g * 0.7152 + b * 0.0722);
      if (y > 1e-6) { ys.push(y); logSum += Math.log(y); }
    }
    if (!ys.length) return 1;
    const logavg = Math.exp(logSum / ys.length);
    const step = Math.max(1, Math.floor(ys.length / 1000000));
    const s = Float64Array.from(ys.filter((_, i) => i % step === 0)).sort();
    const pos = 0.999 * (s.length - 1), lo = Math.floor(pos), hi = Math.min(lo + 1, s.length - 1);
    const high = s[lo] + (s[hi] - s[lo]) * (pos - lo);
    return Math.min(sc.display.key / logavg, sc.display.white / high);
  }

  // --- drawing -------------------------------------------------------------------------------
  let shownFrame = -1;

  function draw() {
    const s = view.state, sc = view.scene;
    const t = Math.min(Math.max(Math.round(s.frame), 0), sc.n_frames - 1);
    if (!view.frames[t]) return false;
    if (t !== shownFrame) {
      view.renderer.setFrame(view.frames[t], sc.has_alpha);
      shownFrame = t;
    }
    const bgMode = { black: 0, env: 1, image: 2, none: 3 }[s.bg] ?? 0;
    view.renderer.draw({
      v: view.basisWeights, exposure: view.exposure, bgMode: bgMode === 1 && !sc.camera ? 0 : bgMode,
      pixelToWorld: view.pixelToWorld, worldToMap: view.worldToMap,
    });
    view.drawCount++;
    return true;
  }

  function refresh(opts = {}) {
    try {
      if (opts.lighting !== false) updateLighting();
      if (opts.meter !== false || view.exposure === undefined) {
        const t = Math.min(Math.max(Math.round(view.state.frame), 0), view.scene.n_frames - 1);
        if (view.state.auto && view.frames[t]) view.meteredExposure = meter(view.frames[t]);
      }
      view.exposure = (view.state.auto ? view.meteredExposure : 1) * 2 ** view.state.exposure;
      draw();
      syncControls();
      writeHash();
      if (!opts.keepMessage) message('');
      view.error = null;
    } catch (e) {
      message(e.message, true);
    }
  }

  // --- controls --------------------------------------------------------------------------------
  function syncControls() {
    const s = view.state;
    $('look').value = s.look;
    $('rot').value = s.rot;
    $('rot-value').textContent = `${Math.round(s.rot)}°`;
    $('tilt').value = s.tilt;
    $('tilt-value').textContent = `${Math.round(s.tilt)}°`;
    $('spread').value = s.spread;
    $('exposure').value = s.exposure;
    $('exposure-value').textContent = `${s.exposure >= 0 ? '+' : ''}${(+s.exposure).toFixed(1)} EV`;
    $('auto').checked = !!s.auto;
    $('bg').value = s.bg;
    $('frame').value = Math.round(s.frame);
    $('frame-value').textContent = `${Math.round(s.frame) + 1} / ${view.scene.n_frames}`;
    $('play').textContent = s.play ? 'Pause' : 'Play';
  }

  function buildControls() {
    const sc = view.scene, look = $('look');
    const group = (label, names) => {
      const g = document.createElement('optgroup');
      g.label = label;
      for (const n of names) {
        const o = document.createElement('option');
        o.value = n; o.textContent = n;
        g.appendChild(o);
      }
      look.appendChild(g);
    };
    group('Environments', Object.keys(view.envs));
    group('Looks', Object.keys(sc.looks));
    group('Dropped map', ['dropped']);
    $('frame').max = sc.n_frames - 1;
    look.onchange = () => { view.state.look = look.value; refresh(); };
    $('rot').oninput = () => { view.state.rot = +$('rot').value; refresh({ meter: false }); };
    $('tilt').oninput = () => { view.state.tilt = +$('tilt').value; refresh({ meter: false }); };
    $('spread').onchange = () => { view.state.spread = $('spread').value; refresh({ meter: false }); };
    $('exposure').oninput = () => { view.state.exposure = +$('exposure').value; refresh({ lighting: false, meter: false }); };
    $('auto').onchange = () => { view.state.auto = $('auto').checked ? 1 : 0; refresh({ lighting: false }); };
    $('bg').onchange = () => {
      view.state.bg = $('bg').value;
      if (view.state.bg === 'image' && !view.hasImage) $('image-input').click();
      refresh({ lighting: false, meter: false });
    };
    $('frame').oninput = () => { view.state.frame = +$('frame').value; view.state.play = 0; refresh({ lighting: false, meter: false }); };
    $('play').onclick = () => { view.state.play = view.state.play ? 0 : 1; lastTick = null; refresh({ lighting: false, meter: false }); };
    $('map-input').onchange = (e) => e.target.files[0] && dropMap(e.target.files[0]);
    $('image-input').onchange = (e) => e.target.files[0] && loadImage(e.target.files[0]);
    $('still').onclick = exportStill;
    $('clip').onclick = exportClip;
    // drag on the picture turns the environment
    const canvas = $('canvas');
    let drag = null;
    canvas.addEventListener('pointerdown', (e) => { drag = { x: e.clientX, rot: view.state.rot }; canvas.setPointerCapture(e.pointerId); });
    canvas.addEventListener('pointermove', (e) => {
      if (!drag) return;
      let r = drag.rot + (e.clientX - drag.x) * (360 / canvas.clientWidth);
      r = ((r + 180) % 360 + 360) % 360 - 180;
      view.state.rot = r;
      refresh({ meter: false });
    });
    canvas.addEventListener('pointerup', () => { drag = null; });
    // a map dropped anywhere on the page
    document.addEventListener('dragover', (e) => { e.preventDefault(); document.body.classList.add('dragging'); });
    document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
    document.addEventListener('drop', (e) => {
      e.preventDefault();
      document.body.classList.remove('dragging');
      const f = e.dataTransfer && e.dataTransfer.files[0];
      if (f) dropMap(f);
    });
    global.addEventListener('hashchange', () => { view.state = parseHash(); refresh(); });
  }

  async function dropMap(file) {
    view.mapBusy = true;
    try {
      message(`reading ${file.name}...`);
      const map = await Hdr.readMap(file);
      view.dropped = { ...map, name: file.name, rotation: [[1, 0, 0], [0, 1, 0], [0, 0, 1]] };
      view.envs.dropped = view.dropped;
      view.state.look = 'dropped';
      refresh({ keepMessage: true });
      message(`lighting: ${file.name} (${map.width}x${map.height})`);
    } catch (e) {
      message(e instanceof Hdr.MapError ? e.message : `${file.name}: cannot read it (${e.message})`, true);
    } finally {
      view.mapBusy = false;
    }
  }

  function loadImage(file) {
    const img = new Image();
    img.onload = () => {
      view.renderer.setImage(img);
      view.hasImage = true;
      view.state.bg = 'image';
      refresh({ lighting: false, meter: false });
    };
    img.onerror = () => message(`${file.name}: not a picture the browser can read (use PNG or JPEG)`, true);
    img.src = URL.createObjectURL(file);
  }

  function download(blob, name) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  function stillName(t) {
    const s = view.state;
    return `${view.scene.name}_${s.look}_rot${Math.round(s.rot)}_${String(t).padStart(4, '0')}.png`;
  }

  function exportStill() {
    draw();
    $('canvas').toBlob((b) => download(b, stillName(Math.round(view.state.frame))), 'image/png');
  }

  // Every frame as a numbered PNG (ready for ffmpeg -i NAME_%04d.png), at the current lighting.
  async function exportClip() {
    const keep = { ...view.state };
    view.state.play = 0;
    for (let t = 0; t < view.scene.n_frames; t++) {
      view.state.frame = t;
      draw();
      const blob = await new Promise((r) => $('canvas').toBlob(r, 'image/png'));
      download(blob, stillName(t));
    }
    view.state = keep;
    refresh({ lighting: false, meter: false });
  }

  // --- playback ------------------------------------------------------------------------------
  let lastTick = null;

  function tick(now) {
    const s = view.state, sc = view.scene;
    if (s.play && sc.n_frames > 1) {
      if (lastTick === null) lastTick = now;
      const step = Math.floor((now - lastTick) * sc.fps / 1000);
      if (step > 0) {
        const next = (Math.round(s.frame) + step) % sc.n_frames;
        lastTick += step * 1000 / sc.fps;
        if (view.frames[next]) {
          s.frame = next;
          draw();
          $('frame').value = next;
          $('frame-value').textContent = `${next + 1} / ${sc.n_frames}`;
        }
      }
    }
    requestAnimationFrame(tick);
  }

  // Shader speed: for `ms` milliseconds, each requestAnimationFrame callback draws the frame
  // `perTick` times and waits for the GPU (a 1-pixel read); returns draws per second and ticks.
  view.benchmark = function (ms, perTick) {
    return new Promise((resolve) => {
      const gl = view.renderer.gl, px = new Uint8Array(4);
      let t0 = null, draws = 0, ticks = 0;
      const step = (now) => {
        if (t0 === null) { t0 = now; gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px); }
        else {
          for (let i = 0; i < perTick; i++) draw();
          gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
          draws += perTick; ticks++;
        }
        const el = performance.now() - t0;
        if (el < ms || ticks < 3) requestAnimationFrame(step);
        else resolve({ draws_per_s: draws / (el / 1000), ticks_per_s: ticks / (el / 1000), draws, seconds: el / 1000 });
      };
      requestAnimationFrame(step);
    });
  };
  view.pixels = () => { draw(); return Array.from(view.renderer.pixels()); };
  view.setState = (patch) => { Object.assign(view.state, patch); refresh(); return view.error; };

  // --- loading -------------------------------------------------------------------------------
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const el = document.createElement('script');
      el.src = src;
      el.onload = resolve;
      el.onerror = () => reject(new Error(`cannot load ${src}`));
      document.head.appendChild(el);
    });
  }

  // A data file: fetched, or (a standalone export, which also opens from disk) loaded as the
  // script beside it, which hands its bytes in base64 to nervpData.
  const scripted = {};
  global.nervpData = (name, b64) => { scripted[name] = b64; };

  async function fetchBytes(url) {
    if (view.scene.encoding === 'js') {
      await loadScript(url.replace(/\.bin$/, '.js'));
      const b64 = scripted[url];
      delete scripted[url];
      return (await fetch('data:application/octet-stream;base64,' + b64)).arrayBuffer();
    }
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: ${r.status} ${r.statusText}`);
    return r.arrayBuffer();
  }

  function pixelToWorld(cam) { // R^T K^-1
    const K = cam.K, R = cam.R;
    const fx = K[0][0], fy = K[1][1], s = K[0][1], cx = K[0][2], cy = K[1][2];
    const Ki = [[1 / fx, -s / (fx * fy), (s * cy - cx * fy) / (fx * fy)], [0, 1 / fy, -cy / fy], [0, 0, 1]];
    return Lt.matmul(Lt.transpose(R), Ki);
  }

  async function start() {
    try {
      if (!global.NERVP_SCENE) await loadScript('scene.js');
      const sc = global.NERVP_SCENE;
      if (!sc || sc.format !== 'nervp-view 1') throw new Error('scene.js is missing or not a nervp view scene: export the page again');
      view.scene = sc;
      document.title = `nervp view: ${sc.name}`;
      $('title').textContent = `${sc.name}: ${sc.kind === 'field' ? 'low-rank field' : 'OLAT dataset'}, rank ${sc.rank}, ${sc.width}x${sc.height}, ${sc.n_frames} frame${sc.n_frames === 1 ? '' : 's'}`;
      view.renderer = new global.NervpGL.Renderer($('canvas'), sc.rank, sc.height, sc.width);
      $('renderer').textContent = view.renderer.renderer();
      view.pixelToWorld = sc.camera ? pixelToWorld(sc.camera) : [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
      if (!sc.has_alpha) $('bg').disabled = true;
      if (location.protocol === 'file:' && sc.encoding !== 'js') {
        throw new Error('browsers do not let a page opened from disk read its data files: serve this folder ' +
          '(`nervp view FIELD`, or `python -m http.server -d THIS_FOLDER` and open http://127.0.0.1:8000/), ' +
          'or export it with `nervp view FIELD --export DIR --standalone`');
      }
      view.envs = {};
      for (const [name, e] of Object.entries(sc.environments)) {
        view.envs[name] = { radiance: new Float32Array(await fetchBytes(e.file)), width: e.width, height: e.height, name };
      }
      view.state = parseHash();
      buildControls();
      const want = Math.min(Math.max(Math.round(view.state.frame), 0), sc.n_frames - 1);
      const order = [want, ...sc.frames.keys()].filter((t, i, a) => a.indexOf(t) === i);
      for (const t of order) {
        view.frames[t] = new Uint16Array(await fetchBytes(sc.frames[t]));
        if (t === want) { refresh(); view.ready = true; requestAnimationFrame(tick); }
        $('loading').textContent = view.frames.filter(Boolean).length < sc.n_frames
          ? `loading frames ${view.frames.filter(Boolean).length} / ${sc.n_frames}` : '';
      }
      view.loaded = true;
    } catch (e) {
      message(e.message, true);
      view.failed = true;
    }
  }

  global.addEventListener('DOMContentLoaded', start);
})(window);
