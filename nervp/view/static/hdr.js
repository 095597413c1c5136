// Environment maps dropped on the page: Radiance .hdr (flat or run-length encoded) and
// OpenEXR (scanline; NONE, ZIPS or ZIP compression; HALF or FLOAT R, G, B channels or Y).
// Both give {radiance: Float32Array (H*W*3) linear RGB, width, height}; `validate` applies the
// checks of nervp.relight.envmap.validate_radiance (2:1, finite, non-negative) with its wording.
(function (global) {
  'use strict';

  class MapError extends Error {}

  const HALF = (() => {
    const t = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
      t[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
    }
    return t;
  })();

  function ascii(bytes, start, end) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
    return s;
  }

  // --- Radiance RGBE -------------------------------------------------------------------------
  function parseHDR(buf, name) {
    const b = new Uint8Array(buf);
    let pos = 0;
    const line = () => {
      const start = pos;
      while (pos < b.length && b[pos] !== 0x0a) pos++;
      if (pos >= b.length) throw new MapError(`${name}: not a Radiance .hdr file (header not terminated)`);
      return ascii(b, start, pos++);
    };
    const magic = line();
    if (!magic.startsWith('#?')) throw new MapError(`${name}: not a Radiance .hdr file (no #? signature)`);
    let format = '';
    for (let l = line(); l !== ''; l = line()) {
      if (l.startsWith('FORMAT=')) format = l.slice(7).trim();
    }
    if (format && format !== '32-bit_rle_rgbe') {
      throw new MapError(`${name}: Radiance format ${format} is not supported; save the map as RGBE`);
    }
    const res = /^-Y (\d+) \+X (\d+)$/.exec(line().trim());
    if (!res) throw new MapError(`${name}: unsupported .hdr orientation; save it as -Y H +X W`);
    const height = +res[1], width = +res[2];
    const rgbe = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) {
      const row = rgbe.subarray(y * width * 4, (y + 1) * width * 4);
      if (pos + 4 > b.length) throw new MapError(`${name}: the .hdr file is truncated`);
      const rle = width >= 8 && width < 32768 && b[pos] === 2 && b[pos + 1] === 2 && !(b[pos + 2] & 0x80);
      if (!rle) { // flat pixels
        if (pos + width * 4 > b.length) throw new MapError(`${name}: the .hdr file is truncated`);
        row.set(b.subarray(pos, pos + width * 4));
        pos += width * 4;
        continue;
      }
      if (((b[pos + 2] << 8) | b[pos + 3]) !== width) throw new MapError(`${name}: damaged .hdr scanline ${y}`);
      pos += 4;
      for (let c = 0; c < 4; c++) {
        let x = 0;
        while (x < width) {
          if (pos >= b.length) throw new MapError(`${name}: the .hdr file is truncated`);
          let n = b[pos++];
          if (n > 128) {
            n -= 128;
            if (x + n > width || pos >= b.length) throw new MapError(`${name}: damaged .hdr scanline ${y}`);
            const v = b[pos++];
            for (let k = 0; k < n; k++) row[(x++) * 4 + c] = v;
          } else {
            if (n === 0 || x + n > width || pos + n > b.length) throw new MapError(`${name}: damaged .hdr scanline ${y}`);
            for (let k = 0; k < n; k++) row[(x++) * 4 + c] = b[pos++];
          }
        }
      }
    }
    const radiance = new Float32Array(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      const e = rgbe[i * 4 + 3];
      if (e === 0) continue;
      const f = 2 ** (e - 136); // as OpenCV (Walter's rgbe.c): mantissa * 2^(e - 128 - 8)
      for (let c = 0; c < 3; c++) radiance[i * 3 + c] = rgbe[i * 4 + c] * f;
    }
    return { radiance, width, height };
  }

  // --- OpenEXR -------------------------------------------------------------------------------
  async function inflate(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  function unzipFilter(raw) { // undo the predictor and the byte interleaving of ZIP(S)
    const n = raw.length;
    for (let i = 1; i < n; i++) raw[i] = (raw[i - 1] + raw[i] - 128) & 0xff;
    const out = new Uint8Array(n);
    let a = 0, b = (n + 1) >> 1, s = 0;
    while (s < n) {
      if (s < n) out[s++] = raw[a++];
      if (s < n) out[s++] = raw[b++];
    }
    return out;
  }

  async function parseEXR(buf, name) {
    const dv = new DataView(buf), b = new Uint8Array(buf);
    if (b.length < 8 || dv.getUint32(0, true) !== 20000630) throw new MapError(`${name}: not an OpenEXR file`);
    const flags = dv.getUint32(4, true);
    if (flags & 0x200) throw new MapError(`${name}: tiled EXR files are not supported; save it as scanlines`);
    if (flags & 0x1800) throw new MapError(`${name}: multi-part or deep EXR files are not supported`);
    let pos = 8;
    const cstr = () => {
      const s = pos;
      while (pos < b.length && b[pos] !== 0) pos++;
      if (pos >= b.length) throw new MapError(`${name}: damaged EXR header`);
      return ascii(b, s, pos++);
    };
    const attrs = {};
    for (;;) {
      const an = cstr();
      if (an === '') break;
      const type = cstr();
      const size = dv.getInt32(pos, true);
      pos += 4;
      if (size < 0 || pos + size > b.length) throw new MapError(`${name}: damaged EXR header`);
      attrs[an] = { type, start: pos, size };
      pos += size;
    }
    if (!attrs.channels || !attrs.dataWindow || !attrs.compression) throw new MapError(`${name}: damaged EXR header`);
    const channels = [];
    for (let p = attrs.channels.start; b[p] !== 0;) {
      const s = p;
      while (b[p] !== 0) p++;
      const cname = ascii(b, s, p++);
      channels.push({ name: cname, type: dv.getInt32(p, true), xs: dv.getInt32(p + 8, true), ys: dv.getInt32(p + 12, true) });
      p += 16;
    }
    const dw = attrs.dataWindow.start;
    const x0 = dv.getInt32(dw, true), y0 = dv.getInt32(dw + 4, true);
    const width = dv.getInt32(dw + 8, true) - x0 + 1, height = dv.getInt32(dw + 12, true) - y0 + 1;
    const comp = b[attrs.compression.start];
    const lines = { 0: 1, 2: 1, 3: 16 }[comp];
    if (lines === undefined) {
      throw new MapError(`${name}: EXR compression ${['NONE', 'RLE', 'ZIPS', 'ZIP', 'PIZ', 'PXR24', 'B44', 'B44A', 'DWAA', 'DWAB'][comp] || comp} ` +
        'is not supported here; save it with ZIP or no compression (or use `nervp relight --light`)');
    }
    if (!(width > 0 && height > 0) || width * height > 1 << 26) throw new MapError(`${name}: bad EXR data window`);
    const short = (c) => c.name.split('.').pop();
    const pick = {};
    for (const c of channels) {
      if (c.xs !== 1 || c.ys !== 1) throw new MapError(`${name}: subsampled EXR channels are not supported`);
      if (c.type !== 1 && c.type !== 2) continue;
      pick[short(c)] = c;
    }
    const want = ['R', 'G', 'B'].every((k) => pick[k]) ? ['R', 'G', 'B'] : pick.Y ? ['Y', 'Y', 'Y'] : null;
    if (!want) throw new MapError(`${name}: EXR has channels ${channels.map((c) => c.name).join(', ')}, need R, G and B`);
    const bpp = channels.map((c) => (c.type === 1 ? 2 : 4));
    const lineBytes = bpp.reduce((s, v) => s + v * width, 0);
    const radiance = new Float32Array(width * height * 3);
    const nChunks = Math.ceil(height / lines);
    let tp = pos;
    for (let k = 0; k < nChunks; k++, tp += 8) {
      const off = Number(dv.getBigUint64(tp, true));
      if (off + 8 > b.length) throw new MapError(`${name}: the EXR file is truncated`);
      const y = dv.getInt32(off, true) - y0, size = dv.getInt32(off + 4, true);
      if (size < 0 || off + 8 + size > b.length || y < 0 || y >= height) throw new MapError(`${name}: damaged EXR chunk ${k}`);
      const n = Math.min(lines, height - y);
      let data = b.subarray(off + 8, off + 8 + size);
      if (comp !== 0 && size < n * lineBytes) data = unzipFilter(await inflate(data));
      if (data.length < n * lineBytes) throw new MapError(`${name}: damaged EXR chunk ${k}`);
      const cdv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      for (let r = 0; r < n; r++) {
        let p = r * lineBytes;
        for (let ci = 0; ci < channels.length; ci++) {
          const ch = channels[ci];
          const slots = want.map((w, i) => (pick[w] === ch ? i : -1)).filter((i) => i >= 0);
          for (let x = 0; x < width; x++, p += bpp[ci]) {
            if (!slots.length) continue;
            const v = ch.type === 1 ? HALF[cdv.getUint16(p, true)] : cdv.getFloat32(p, true);
            for (const s of slots) radiance[((y + r) * width + x) * 3 + s] = v;
          }
        }
      }
    }
    return { radiance, width, height };
  }

  // nervp.relight.envmap.validate_radiance: 2:1, finite, non-negative (same messages).
  function validate(map, name) {
    const { width: w, height: h, radiance: a } = map;
    if (h < 2 || w !== 2 * h) throw new MapError(`${name}: an equirectangular map is twice as wide as high, got ${w}x${h}`);
    let bad = 0, neg = 0, min = Infinity;
    for (let i = 0; i < w * h; i++) {
      let nb = false, nn = false;
      for (let c = 0; c < 3; c++) {
        const v = a[i * 3 + c];
        if (!Number.isFinite(v)) nb = true;
        else if (v < 0) { nn = true; min = Math.min(min, v); }
      }
      bad += nb; neg += nn;
    }
    if (bad) throw new MapError(`${name}: ${bad} texels are NaN or infinite; fix or re-export the map`);
    if (neg) {
      throw new MapError(`${name}: ${neg} texels are negative (min ${min.toPrecision(3)}); radiance cannot be ` +
        'negative: clamp the map at 0 or re-export it');
    }
    return map;
  }

  async function readMap(file) {
    const name = file.name;
    const ext = name.toLowerCase().split('.').pop();
    if (ext !== 'hdr' && ext !== 'exr') {
      throw new MapError(`${name}: not an environment map; drop an equirectangular .hdr or .exr file`);
    }
    const buf = await file.arrayBuffer();
    return validate(ext === 'hdr' ? parseHDR(buf, name) : await parseEXR(buf, name), name);
  }

  global.NervpHDR = { MapError, parseHDR, parseEXR, validate, readMap, HALF };
})(window);
