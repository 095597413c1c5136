// The relighting shader: per pixel, the K-term weighted sum of the basis images (half-float
// texture array), the field's alpha over a background, then the display transform of
// nervp.colour.to_display: srgb(filmic(linear * exposure)).
(function (global) {
  'use strict';

  const VERT = `#version 300 es
in vec2 pos;
void main() { gl_Position = vec4(pos, 0.0, 1.0); }`;

  // EnvMap.sample (bilinear, rows clamped, columns wrapping) and env_view (2 x 2 rays per pixel
  // through R^T K^-1): the environment background, shared by both programs.
  const ENV_GLSL = `
uniform sampler2D envTex;       // equirectangular RGBA32F radiance (map frame)
uniform mat3 pixelToWorld;      // R^T K^-1: pixel (x + 1/2, y + 1/2, 1) -> world ray
uniform mat3 worldToMap;        // the environment's rotation, transposed
const float PI = 3.14159265358979;

vec3 envTexel(ivec2 t) { return texelFetch(envTex, t, 0).rgb; }

vec3 sampleEnv(vec3 world) {
  ivec2 size = textureSize(envTex, 0);
  vec3 d = worldToMap * normalize(world);
  float theta = acos(clamp(d.y, -1.0, 1.0));
  float phi = atan(d.x, -d.z);
  float y = clamp(theta * (float(size.y) / PI) - 0.5, 0.0, float(size.y - 1));
  float x = (phi + PI) * (float(size.x) / (2.0 * PI)) - 0.5;
  float y0 = floor(y), x0 = floor(x);
  float fy = y - y0, fx = x - x0;
  int iy0 = int(y0), iy1 = min(iy0 + 1, size.y - 1);
  int ix0 = int(mod(x0, float(size.x))), ix1 = int(mod(x0 + 1.0, float(size.x)));
  vec3 top = envTexel(ivec2(ix0, iy0)) * (1.0 - fx) + envTexel(ivec2(ix1, iy0)) * fx;
  vec3 bot = envTexel(ivec2(ix0, iy1)) * (1.0 - fx) + envTexel(ivec2(ix1, iy1)) * fx;
  return top * (1.0 - fy) + bot * fy;
}

vec3 envView(ivec2 p) {
  vec3 bg = vec3(0.0);
  for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) {
    vec2 q = vec2(p) + (vec2(float(j), float(i)) + 0.5) * 0.5;
    bg += 0.25 * sampleEnv(pixelToWorld * vec3(q, 1.0));
  }
  return bg;
}`;

  // The environment's view, rendered once per lighting change into a float texture (so a
  // playing video pays for the K-term sum only).
  const BG_FRAG = `#version 300 es
precision highp float;
precision highp int;
${ENV_GLSL}
uniform int height;
out vec4 colour;
void main() {
  colour = vec4(envView(ivec2(int(gl_FragCoord.x), height - 1 - int(gl_FragCoord.y))), 1.0);
}`;

  const frag = (K) => `#version 300 es
precision highp float;
precision highp int;
precision highp sampler2DArray;
${ENV_GLSL}
uniform sampler2DArray basis;   // K layers of (H, W) RGB16F, row 0 = top of the picture
uniform sampler2D alphaTex;     // (H, W) R16F coverage
uniform sampler2D imageTex;     // background picture, sRGB-encoded RGBA8
uniform sampler2D bgView;       // the environment's view (BG_FRAG), rows bottom-up
uniform vec3 v[${K}];           // basis weights: coeffs @ LED weights
uniform float exposure;         // multiplier (auto x 2^ev)
uniform int bgMode;             // 0 black, 1 environment, 2 picture, 3 none (transparent)
uniform bool bgPrecomputed;     // the environment's view is in bgView
uniform bool hasAlpha;
uniform vec2 imageScale;        // cover-fit of the picture: uv = (p / size - 1/2) * scale + 1/2
uniform int height;
out vec4 colour;

vec3 hable(vec3 x) {
  const float A = 0.15, B = 0.50, C = 0.10, D = 0.20, E = 0.02, F = 0.30;
  return (x * (A * x + C * B) + D * E) / (x * (A * x + B) + D * F) - E / F;
}

vec3 filmic(vec3 x) {
  const float A = 0.15, B = 0.50, C = 0.10, D = 0.20, E = 0.02, F = 0.30, W = 11.2;
  float white = (W * (A * W + C * B) + D * E) / (W * (A * W + B) + D * F) - E / F;
  return clamp(hable(max(x, 0.0) * 2.0) / white, 0.0, 1.0);
}

vec3 srgbEncode(vec3 x) {
  x = clamp(x, 0.0, 1.0);
  return mix(1.055 * pow(max(x, vec3(1e-12)), vec3(1.0 / 2.4)) - 0.055, 12.92 * x, lessThanEqual(x, vec3(0.0031308)));
}

vec3 srgbDecode(vec3 x) {
  return mix(pow((x + 0.055) / 1.055, vec3(2.4)), x / 12.92, lessThanEqual(x, vec3(0.04045)));
}

void main() {
  ivec2 p = ivec2(int(gl_FragCoord.x), height - 1 - int(gl_FragCoord.y));
  vec3 c = vec3(0.0);
  for (int k = 0; k < ${K}; k++) c += v[k] * texelFetch(basis, ivec3(p, k), 0).rgb;
  float a = hasAlpha ? clamp(texelFetch(alphaTex, p, 0).r, 0.0, 1.0) : 1.0;
  vec3 bg = vec3(0.0);
  if (bgMode == 1) {
    bg = bgPrecomputed ? texelFetch(bgView, ivec2(gl_FragCoord.xy), 0).rgb : envView(p);
  } else if (bgMode == 2) {  // the picture keeps its own brightness: linear / exposure
    vec2 size = vec2(textureSize(alphaTex, 0));
    vec2 uv = ((vec2(p) + 0.5) / size - 0.5) * imageScale + 0.5;
    bg = srgbDecode(texture(imageTex, uv).rgb) / exposure;
  }
  vec3 shown = srgbEncode(filmic(c * exposure + (1.0 - a) * bg * exposure));
  colour = bgMode == 3 ? vec4(shown * a, a) : vec4(shown, 1.0);
}`;

  const colMajor = (m) => [m[0][0], m[1][0], m[2][0], m[0][1], m[1][1], m[2][1], m[0][2], m[1][2], m[2][2]];

  function compile(gl, type, src) {
    const s = gl.createShader(type);
    gl.shaderSource(s, src);
    gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error('shader: ' + gl.getShaderInfoLog(s));
    return s;
  }

  class Renderer {
    constructor(canvas, K, H, W) {
      const gl = canvas.getContext('webgl2', { preserveDrawingBuffer: true, premultipliedAlpha: true, antialias: false });
      if (!gl) throw new Error('this browser has no WebGL2: the page cannot relight');
      this.gl = gl; this.K = K; this.H = H; this.W = W;
      canvas.width = W; canvas.height = H;
      const buf = gl.createBuffer();
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 3, -1, -1, 3]), gl.STATIC_DRAW);
      const program = (fragSrc, names) => {
        const prog = gl.createProgram();
        gl.attachShader(prog, compile(gl, gl.VERTEX_SHADER, VERT));
        gl.attachShader(prog, compile(gl, gl.FRAGMENT_SHADER, fragSrc));
        gl.bindAttribLocation(prog, 0, 'pos');
        gl.linkProgram(prog);
        if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error('shader: ' + gl.getProgramInfoLog(prog));
        const u = {};
        for (const n of names) u[n] = gl.getUniformLocation(prog, n);
        gl.useProgram(prog);
        for (const [n, unit] of [['basis', 0], ['alphaTex', 1], ['envTex', 2], ['imageTex', 3], ['bgView', 4]]) {
          if (u[n]) gl.uniform1i(u[n], unit);
        }
        gl.uniform1i(u.height, H);
        return { prog, u };
      };
      gl.enableVertexAttribArray(0);
      gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);
      const envNames = ['envTex', 'pixelToWorld', 'worldToMap', 'height'];
      // a float render target for the environment's view, where the browser has one
      this.bgProg = gl.getExtension('EXT_color_buffer_float') ? program(BG_FRAG, envNames) : null;
      const main = program(frag(K), [...envNames, 'basis', 'alphaTex', 'imageTex', 'bgView', 'v', 'exposure',
        'bgMode', 'bgPrecomputed', 'hasAlpha', 'imageScale']);
      this.prog = main.prog;
      this.u = main.u;
      gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
      this.basis = this._tex(0, gl.TEXTURE_2D_ARRAY);
      gl.texStorage3D(gl.TEXTURE_2D_ARRAY, 1, gl.RGB16F, W, H, K);
      this.alpha = this._tex(1, gl.TEXTURE_2D);
      gl.texStorage2D(gl.TEXTURE_2D, 1, gl.R16F, W, H);
      this.env = this._tex(2, gl.TEXTURE_2D);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32F, 1, 1, 0, gl.RGBA, gl.FLOAT, new Float32Array(4));
      this.image = this._tex(3, gl.TEXTURE_2D, gl.LINEAR);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, 1, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));
      this.bgView = this._tex(4, gl.TEXTURE_2D);
      gl.texStorage2D(gl.TEXTURE_2D, 1, gl.RGBA32F, W, H);
      if (this.bgProg) {
        this.fbo = gl.createFramebuffer();
        gl.bindFramebuffer(gl.FRAMEBUFFER, this.fbo);
        gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, this.bgView, 0);
        if (gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) this.bgProg = null;
        gl.bindFramebuffer(gl.FRAMEBUFFER, null);
      }
      this.bgKey = null;
    }

    // Render the environment's view into bgView when the environment or its rotation changed.
    _background(p) {
      const gl = this.gl, key = [this.envVersion, ...p.pixelToWorld.flat(), ...p.worldToMap.flat()].join(',');
      if (!this.bgProg || key === this.bgKey) return;
      const { prog, u } = this.bgProg;
      gl.useProgram(prog);
      gl.uniformMatrix3fv(u.pixelToWorld, false, colMajor(p.pixelToWorld));
      gl.uniformMatrix3fv(u.worldToMap, false, colMajor(p.worldToMap));
      gl.bindFramebuffer(gl.FRAMEBUFFER, this.fbo);
      gl.viewport(0, 0, this.W, this.H);
      gl.drawArrays(gl.TRIANGLES, 0, 3);
      gl.bindFramebuffer(gl.FRAMEBUFFER, null);
      this.bgKey = key;
    }

    _tex(unit, target, filter) {
      const gl = this.gl, t = gl.createTexture();
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(target, t);
      gl.texParameteri(target, gl.TEXTURE_MIN_FILTER, filter || gl.NEAREST);
      gl.texParameteri(target, gl.TEXTURE_MAG_FILTER, filter || gl.NEAREST);
      gl.texParameteri(target, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(target, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      return t;
    }

    // frame: Uint16Array of float16 bits, basis (K, H, W, 3) then alpha (H, W) if present.
    setFrame(frame, hasAlpha) {
      const gl = this.gl, { K, H, W } = this;
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D_ARRAY, this.basis);
      gl.texSubImage3D(gl.TEXTURE_2D_ARRAY, 0, 0, 0, 0, W, H, K, gl.RGB, gl.HALF_FLOAT, frame.subarray(0, K * H * W * 3));
      if (hasAlpha) {
        gl.activeTexture(gl.TEXTURE1);
        gl.bindTexture(gl.TEXTURE_2D, this.alpha);
        gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, W, H, gl.RED, gl.HALF_FLOAT, frame.subarray(K * H * W * 3, K * H * W * 4));
      }
      this.hasAlpha = hasAlpha;
    }

    // env: {radiance: Float32Array (H*W*3), width, height}
    setEnv(env) {
      const gl = this.gl, n = env.width * env.height, rgba = new Float32Array(n * 4);
      for (let i = 0; i < n; i++) {
        rgba[i * 4] = env.radiance[i * 3]; rgba[i * 4 + 1] = env.radiance[i * 3 + 1]; rgba[i * 4 + 2] = env.radiance[i * 3 + 2];
      }
      gl.activeTexture(gl.TEXTURE2);
      gl.bindTexture(gl.TEXTURE_2D, this.env);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32F, env.width, env.height, 0, gl.RGBA, gl.FLOAT, rgba);
      this.envVersion = (this.envVersion || 0) + 1;
    }

    setImage(img) {
      const gl = this.gl;
      gl.activeTexture(gl.TEXTURE3);
      gl.bindTexture(gl.TEXTURE_2D, this.image);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, img);
      const s = Math.max(this.H / img.height, this.W / img.width);
      this.imageScale = [this.W / (img.width * s), this.H / (img.height * s)];
    }

    // p: {v: Float32Array (K*3), exposure, bgMode, pixelToWorld (3x3 rows), worldToMap (3x3 rows)}
    draw(p) {
      const gl = this.gl, u = this.u;
      if (p.bgMode === 1) this._background(p);
      gl.useProgram(this.prog);
      gl.uniform1i(u.bgPrecomputed, this.bgProg ? 1 : 0);
      gl.viewport(0, 0, this.W, this.H);
      gl.uniform3fv(u.v, p.v);
      gl.uniform1f(u.exposure, p.exposure);
      gl.uniform1i(u.bgMode, p.bgMode);
      gl.uniform1i(u.hasAlpha, this.hasAlpha ? 1 : 0);
      gl.uniformMatrix3fv(u.pixelToWorld, false, colMajor(p.pixelToWorld));
      gl.uniformMatrix3fv(u.worldToMap, false, colMajor(p.worldToMap));
      gl.uniform2fv(u.imageScale, this.imageScale || [1, 1]);
      gl.drawArrays(gl.TRIANGLES, 0, 3);
    }

    // The canvas as RGBA8 rows, top row first.
    pixels() {
      const gl = this.gl, { H, W } = this, px = new Uint8Array(W * H * 4), out = new Uint8Array(W * H * 4);
      gl.readPixels(0, 0, W, H, gl.RGBA, gl.UNSIGNED_BYTE, px);
      for (let y = 0; y < H; y++) out.set(px.subarray((H - 1 - y) * W * 4, (H - y) * W * 4), y * W * 4);
      return out;
    }

    renderer() {
      const gl = this.gl, ext = gl.getExtension('WEBGL_debug_renderer_info');
      return ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
    }
  }

  global.NervpGL = { Renderer };
})(window);
