// Lighting -> LED weights -> basis weights, as nervp.relight computes them.
//
// Every function here repeats one in nervp/relight (named beside it) on the data the Python
// side ships in scene.json: LED directions, Voronoi solid angles and calibration; the
// Delaunay triangles of the LEDs; each look's lights. Arithmetic is float64 like numpy's; the
// weights are rounded to float32 where Python returns float32. tests/view checks the page's
// weights against `weights_for`.
(function (global) {
  'use strict';

  // nervp.relight.envmap.rotation_matrix: right-handed rotation about `axis` (Rodrigues).
  function rotationMatrix(axis, degrees) {
    const n = Math.hypot(axis[0], axis[1], axis[2]);
    const k = [axis[0] / n, axis[1] / n, axis[2] / n];
    const a = degrees * (Math.PI / 180);
    const K = [[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]];
    const KK = matmul(K, K);
    const s = Math.sin(a), c = 1 - Math.cos(a);
    const R = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) R[i][j] += s * K[i][j] + c * KK[i][j];
    return R;
  }

  function matmul(A, B) {
    const C = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      C[i][j] = A[i][0] * B[0][j] + A[i][1] * B[1][j] + A[i][2] * B[2][j];
    }
    return C;
  }

  function mulVec(A, v) {
    return [A[0][0] * v[0] + A[0][1] * v[1] + A[0][2] * v[2],
            A[1][0] * v[0] + A[1][1] * v[1] + A[1][2] * v[2],
            A[2][0] * v[0] + A[2][1] * v[1] + A[2][2] * v[2]];
  }

  function transpose(A) {
    return [[A[0][0], A[1][0], A[2][0]], [A[0][1], A[1][1], A[2][1]], [A[0][2], A[1][2], A[2][2]]];
  }

  // nervp.relight.envmap.texel_solid_angles: (H,) solid angle of one texel in each row.
  function texelSolidAngles(h, w) {
    const out = new Float64Array(h);
    for (let i = 0; i < h; i++) {
      out[i] = (Math.cos(i * (Math.PI / h)) - Math.cos((i + 1) * (Math.PI / h))) * (2 * Math.PI / w);
    }
    return out;
  }

  // EnvMap.downsampled: area-weighted 2x2 reductions until the width is at most maxWidth
  // (remembered per map, so turning a large map does not reduce it again).
  const reduced = new WeakMap();

  function downsampled(env, maxWidth) {
    let r = env.radiance, h = env.height, w = env.width;
    if (!(w > maxWidth && h % 2 === 0)) return env;
    const known = reduced.get(r);
    if (known && known.maxWidth === maxWidth) return { ...known, rotation: env.rotation };
    let cur = Float64Array.from(r);
    while (w > maxWidth && h % 2 === 0) {
      const a = texelSolidAngles(h, w);
      const h2 = h / 2, w2 = w / 2;
      const next = new Float64Array(h2 * w2 * 3);
      for (let i = 0; i < h2; i++) {
        const a0 = a[2 * i], a1 = a[2 * i + 1], den = (a0 + a1) * 2;
        for (let j = 0; j < w2; j++) for (let c = 0; c < 3; c++) {
          const p = (k, l) => cur[((2 * i + k) * w + 2 * j + l) * 3 + c];
          next[(i * w2 + j) * 3 + c] = ((p(0, 0) * a0 + p(0, 1) * a0) + (p(1, 0) * a1 + p(1, 1) * a1)) / den;
        }
      }
      cur = next; h = h2; w = w2;
    }
    const out = { radiance: Float32Array.from(cur), height: h, width: w, maxWidth };
    reduced.set(r, out);
    return { ...out, rotation: env.rotation };
  }

  function nearestLed(leds, x, y, z) {
    const D = leds.direction;
    let best = 0, bestDot = -Infinity;
    for (let l = 0; l < D.length; l++) {
      const d = x * D[l][0] + y * D[l][1] + z * D[l][2];
      if (d > bestDot) { bestDot = d; best = l; }
    }
    return best;
  }

  // EnvMap.sample: bilinear radiance along a world direction (float32 result).
  function sampleEnv(env, dir) {
    const R = env.rotation, h = env.height, w = env.width, r = env.radiance;
    const d = [R[0][0] * dir[0] + R[1][0] * dir[1] + R[2][0] * dir[2],
               R[0][1] * dir[0] + R[1][1] * dir[1] + R[2][1] * dir[2],
               R[0][2] * dir[0] + R[1][2] * dir[1] + R[2][2] * dir[2]];
    const theta = Math.acos(Math.min(1, Math.max(-1, d[1])));
    const phi = Math.atan2(d[0], -d[2]);
    let y = theta * (h / Math.PI) - 0.5;
    const x = (phi + Math.PI) * (w / (2 * Math.PI)) - 0.5;
    y = Math.min(Math.max(y, 0), h - 1);
    const y0 = Math.floor(y), x0 = Math.floor(x), fy = y - y0, fx = x - x0;
    const y1 = Math.min(y0 + 1, h - 1);
    const x0w = ((x0 % w) + w) % w, x1w = (((x0 + 1) % w) + w) % w;
    const out = [0, 0, 0];
    for (let c = 0; c < 3; c++) {
      const top = r[(y0 * w + x0w) * 3 + c] * (1 - fx) + r[(y0 * w + x1w) * 3 + c] * fx;
      const bot = r[(y1 * w + x0w) * 3 + c] * (1 - fx) + r[(y1 * w + x1w) * 3 + c] * fx;
      out[c] = Math.fround(top * (1 - fy) + bot * fy);
    }
    return out;
  }

  // nervp.relight.weights._calibrated: irradiance / calibration, as float32.
  function calibrated(irr, leds) {
    const L = leds.direction.length, out = new Float32Array(L * 3);
    for (let l = 0; l < L; l++) for (let c = 0; c < 3; c++) out[l * 3 + c] = irr[l * 3 + c] / leds.calibration[l][c];
    return out;
  }

  // nervp.relight.weights.env_weights: (L*3) float32 LED weights. spread "voronoi": each texel
  // whole to its nearest LED; "smooth": over its Delaunay triangle's 3 LEDs, barycentrically.
  // env: {radiance: Float32Array (H*W*3), height, width, rotation: 3x3 world-from-map}.
  function envWeights(envIn, scene, spread) {
    const smooth = spread === 'smooth';
    const leds = scene.leds, L = leds.direction.length;
    const env = downsampled(envIn, scene.env_max_width);
    const h = env.height, w = env.width, R = env.rotation, rad = env.radiance;
    const area = texelSolidAngles(h, w);
    const num = new Float64Array(L * 3), den = new Float64Array(L);
    const sinPhi = new Float64Array(w), cosPhi = new Float64Array(w);
    for (let j = 0; j < w; j++) {
      const phi = (j + 0.5) * (2 * Math.PI / w) - Math.PI;
      sinPhi[j] = Math.sin(phi); cosPhi[j] = Math.cos(phi);
    }
    for (let i = 0; i < h; i++) {
      const theta = (i + 0.5) * (Math.PI / h), st = Math.sin(theta), ct = Math.cos(theta), a = area[i];
      for (let j = 0; j < w; j++) {
        const m0 = st * sinPhi[j], m1 = ct, m2 = -st * cosPhi[j];
        const x = m0 * R[0][0] + m1 * R[0][1] + m2 * R[0][2];
        const y = m0 * R[1][0] + m1 * R[1][1] + m2 * R[1][2];
        const z = m0 * R[2][0] + m1 * R[2][1] + m2 * R[2][2];
        const t = (i * w + j) * 3;
        if (smooth) {
          const [ids, b] = barycentric(scene, [x, y, z]);
          for (let m = 0; m < 3; m++) {
            const l = ids[m], ab = a * b[m];
            den[l] += ab;
            num[l * 3] += ab * rad[t]; num[l * 3 + 1] += ab * rad[t + 1]; num[l * 3 + 2] += ab * rad[t + 2];
          }
          continue;
        }
        const l = nearestLed(leds, x, y, z);
        den[l] += a;
        num[l * 3] += a * rad[t]; num[l * 3 + 1] += a * rad[t + 1]; num[l * 3 + 2] += a * rad[t + 2];
      }
    }
    const irr = new Float64Array(L * 3);
    for (let l = 0; l < L; l++) {
      const mean = den[l] > 0 ? [num[l * 3] / den[l], num[l * 3 + 1] / den[l], num[l * 3 + 2] / den[l]]
        : sampleEnv(env, leds.direction[l]);
      for (let c = 0; c < 3; c++) irr[l * 3 + c] = mean[c] * leds.solid_angle[l];
    }
    return calibrated(irr, leds);
  }

  // nervp.relight.weights.barycentric for one unit direction: [[i, j, k], [wi, wj, wk]].
  function barycentric(scene, q) {
    const tri = scene.triangles;
    const coords = (f) => mulVec(tri.inverse[f], q);
    const best = (cands) => {
      let bf = -1, bs = -Infinity;
      for (const f of cands) {
        if (f < 0) continue;
        const lam = coords(f), s = Math.min(lam[0], lam[1], lam[2]);
        if (s > bs) { bs = s; bf = f; }
      }
      return [bf, bs];
    };
    let [f, score] = best(tri.incident[nearestLed(scene.leds, q[0], q[1], q[2])]);
    if (score < -1e-12) [f] = best(tri.faces.map((_, i) => i));
    const lm = coords(f).map((v) => Math.max(v, 0));
    const sum = lm[0] + lm[1] + lm[2];
    return [tri.faces[f], lm.map((v) => v / sum)];
  }

  const norm = (v) => Math.hypot(v[0], v[1], v[2]);
  const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

  // nervp.relight.looks.disc_directions: the emitter's sunflower pattern of directions.
  function discDirections(position, size, n) {
    const dist = norm(position);
    const c = position.map((v) => v / dist);
    const r = Math.atan2(size / 2, dist);
    if (r < 0.25 * (Math.PI / 180)) return [c];
    const helper = Math.abs(c[1]) < 0.9 ? [0, 1, 0] : [1, 0, 0];
    let u = cross(helper, c);
    const un = norm(u);
    u = u.map((v) => v / un);
    const v = cross(c, u);
    const out = [];
    for (let k = 0; k < n; k++) {
      const i = k + 0.5;
      const rho = Math.tan(r) * Math.sqrt(i / n);
      const ang = i * Math.PI * (3 - Math.sqrt(5));
      const ca = Math.cos(ang), sa = Math.sin(ang);
      const d = [0, 1, 2].map((m) => c[m] + rho * (ca * u[m] + sa * v[m]));
      const dn = norm(d);
      out.push(d.map((x) => x / dn));
    }
    return out;
  }

  // nervp.relight.looks.look_weights: lights spread over Delaunay triangles, ambient by solid angle.
  function lookWeights(look, rotation, scene) {
    const leds = scene.leds, L = leds.direction.length;
    const irr = new Float64Array(L * 3);
    for (let l = 0; l < L; l++) for (let c = 0; c < 3; c++) irr[l * 3 + c] = look.ambient[c] * leds.solid_angle[l];
    for (const lt of look.lights) {
      const pos = mulVec(rotation, lt.position);
      const dirs = discDirections(pos, lt.size, scene.disc_samples);
      const per = lt.colour.map((c) => c * (lt.intensity / dirs.length));
      const add = new Float64Array(L * 3);
      for (const d of dirs) {
        const [idx, b] = barycentric(scene, d);
        for (let m = 0; m < 3; m++) for (let c = 0; c < 3; c++) add[idx[m] * 3 + c] += b[m] * per[c];
      }
      for (let i = 0; i < L * 3; i++) irr[i] += add[i];
    }
    return calibrated(irr, leds);
  }

  // Look.as_env: the look's backdrop as a 64 x 128 environment.
  function backdropEnv(look, rotation) {
    const h = 64, w = 128, rad = new Float32Array(h * w * 3);
    for (let i = 0; i < h; i++) {
      const t = 0.5 + 0.5 * Math.cos((i + 0.5) * (Math.PI / h));
      for (let j = 0; j < w; j++) for (let c = 0; c < 3; c++) {
        rad[(i * w + j) * 3 + c] = look.backdrop[1][c] * (1 - t) + look.backdrop[0][c] * t + look.ambient[c];
      }
    }
    return { radiance: rad, height: h, width: w, rotation };
  }

  // The weights of the K basis images: v = coeffs @ w, (K*3) float32 (relight.core._weights).
  function basisWeights(ledWeights, scene) {
    const K = scene.coeffs.length, L = scene.leds.direction.length, v = new Float32Array(K * 3);
    for (let k = 0; k < K; k++) {
      const row = scene.coeffs[k];
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let l = 0; l < L; l++) s += row[l] * ledWeights[l * 3 + c];
        v[k * 3 + c] = s;
      }
    }
    return v;
  }

  global.NervpLighting = {
    rotationMatrix, matmul, transpose, texelSolidAngles, downsampled, envWeights, sampleEnv,
    lookWeights, backdropEnv, basisWeights, barycentric, discDirections,
  };
})(window);
