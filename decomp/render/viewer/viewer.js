// hilo decomposition viewer: WebGL, no libraries. The data element holds the
// boxes of every rank; the surface of each rank (box faces not shared with
// another box of the same rank) is built once into one vertex buffer, rank
// after rank, so drawing a subset of ranks is a few drawElements ranges.
(function () {
  'use strict';
  var T = { start: performance.now() };
  var D = JSON.parse(document.getElementById('hilo-data').textContent);
  var R = D.ranks, G = D.grid, M = D.metrics || null;
  var $ = function (id) { return document.getElementById(id); };

  // ---- boxes: lo in BL, hi in BH, 3 per box; rank r owns boxStart[r]..boxStart[r+1]
  var boxStart = new Int32Array(R + 1);
  for (var r = 0; r < R; r++) boxStart[r + 1] = boxStart[r] + D.nbox[r];
  var NB = boxStart[R];
  var BL = new Int32Array(3 * NB), BH = new Int32Array(3 * NB), boxRank = new Int32Array(NB);
  (function () {
    var src = D.boxes;
    for (var r = 0; r < R; r++) {
      for (var i = boxStart[r]; i < boxStart[r + 1]; i++) {
        boxRank[i] = r;
        for (var a = 0; a < 3; a++) {
          BL[3 * i + a] = src[6 * i + a];
          BH[3 * i + a] = src[6 * i + a] + src[6 * i + 3 + a];
        }
      }
    }
  })();
  var colR = new Uint8Array(R), colG = new Uint8Array(R), colB = new Uint8Array(R);
  for (var r = 0; r < R; r++) { var c = D.colors[r]; colR[r] = c >> 16 & 255; colG[r] = c >> 8 & 255; colB[r] = c & 255; }
  function css(r) { return 'rgb(' + colR[r] + ',' + colG[r] + ',' + colB[r] + ')'; }

  // ghost blocks per rank (src, lo, size)
  var ghostStart = null;
  if (D.ghosts) {
    ghostStart = new Int32Array(R + 1);
    for (var r = 0; r < R; r++) ghostStart[r + 1] = ghostStart[r] + D.ghostN[r];
  }
  // neighbours per rank: the peers in the metrics, else the senders of ghost blocks
  var peerStart = null;
  if (M) { peerStart = new Int32Array(R + 1); for (var r = 0; r < R; r++) peerStart[r + 1] = peerStart[r] + M.peerN[r]; }
  function neighbours(r) {
    var out = [];
    if (M) {
      for (var j = peerStart[r]; j < peerStart[r + 1]; j++) out.push(M.peers[3 * j]);
    } else if (ghostStart) {
      var seen = {};
      for (var g = ghostStart[r]; g < ghostStart[r + 1]; g++) {
        var s = D.ghosts[7 * g];
        if (s !== r && !seen[s]) { seen[s] = 1; out.push(s); }
      }
      out.sort(function (a, b) { return a - b; });
    }
    return out;
  }

  // ---- geometry: 16-byte vertices (x, y, z float32; r, g, b, dir uint8)
  // dir = 2*axis + (1 for the high side); 6 marks lines (no shading).
  function Geo(cap) {
    this.buf = new ArrayBuffer(16 * Math.max(cap, 64));
    this.f = new Float32Array(this.buf); this.u = new Uint8Array(this.buf);
    this.idx = new Uint32Array(Math.max(cap, 64) * 3 / 2 | 0);
    this.nv = 0; this.ni = 0;
  }
  Geo.prototype.grow = function (nv, ni) {
    if (this.nv + nv > this.f.length / 4) {
      var b = new ArrayBuffer(Math.max(this.buf.byteLength * 2, 16 * (this.nv + nv)));
      new Uint8Array(b).set(this.u); this.buf = b;
      this.f = new Float32Array(b); this.u = new Uint8Array(b);
    }
    if (this.ni + ni > this.idx.length) {
      var x = new Uint32Array(Math.max(this.idx.length * 2, this.ni + ni)); x.set(this.idx); this.idx = x;
    }
  };
  Geo.prototype.vert = function (x, y, z, r, dir) {
    var v = this.nv++, o = 4 * v, ob = 16 * v;
    this.f[o] = x; this.f[o + 1] = y; this.f[o + 2] = z;
    this.u[ob + 12] = colR[r]; this.u[ob + 13] = colG[r]; this.u[ob + 14] = colB[r]; this.u[ob + 15] = dir;
    return v;
  };
  var P = [0, 0, 0];
  // quad on the plane axis a = c, over [u0,u1) x [v0,v1) of axes (a+1)%3, (a+2)%3,
  // wound counter-clockwise seen from the side the normal points to.
  Geo.prototype.quad = function (a, c, u0, u1, v0, v1, hi, r) {
    this.grow(4, 6);
    var ua = (a + 1) % 3, va = (a + 2) % 3, dir = 2 * a + (hi ? 1 : 0), b = this.nv;
    var us = [u0, u1, u1, u0], vs = [v0, v0, v1, v1];
    for (var k = 0; k < 4; k++) { P[a] = c; P[ua] = us[k]; P[va] = vs[k]; this.vert(P[0], P[1], P[2], r, dir); }
    var I = this.idx, n = this.ni;
    if (hi) { I[n] = b; I[n + 1] = b + 1; I[n + 2] = b + 2; I[n + 3] = b; I[n + 4] = b + 2; I[n + 5] = b + 3; }
    else { I[n] = b; I[n + 1] = b + 2; I[n + 2] = b + 1; I[n + 3] = b; I[n + 4] = b + 3; I[n + 5] = b + 2; }
    this.ni += 6;
  };
  Geo.prototype.box = function (lo, hi, r) {
    for (var a = 0; a < 3; a++) {
      var ua = (a + 1) % 3, va = (a + 2) % 3;
      this.quad(a, lo[a], lo[ua], hi[ua], lo[va], hi[va], false, r);
      this.quad(a, hi[a], lo[ua], hi[ua], lo[va], hi[va], true, r);
    }
  };
  Geo.prototype.line = function (p, q, r) {
    this.grow(2, 2);
    var b = this.nv;
    this.vert(p[0], p[1], p[2], r, 6); this.vert(q[0], q[1], q[2], r, 6);
    this.idx[this.ni++] = b; this.idx[this.ni++] = b + 1;
  };
  Geo.prototype.boxEdges = function (lo, hi, r) {
    for (var a = 0; a < 3; a++) {
      var ua = (a + 1) % 3, va = (a + 2) % 3;
      for (var k = 0; k < 4; k++) {
        var p = [0, 0, 0], q = [0, 0, 0];
        p[a] = lo[a]; q[a] = hi[a];
        p[ua] = q[ua] = (k & 1) ? hi[ua] : lo[ua];
        p[va] = q[va] = (k & 2) ? hi[va] : lo[va];
        this.line(p, q, r);
      }
    }
  };

  // The surface of every rank: each box face minus the faces of the same
  // rank's boxes that touch it from the other side. rankArea[r] is the
  // surface area drawn for rank r (tests compare it with the cut faces).
  var surf = new Geo(NB * 24), surfStart = new Int32Array(R + 1), rankArea = new Float64Array(R);
  (function () {
    var KEY = 4194304; // > 2^21, the largest grid dimension
    var face = [], next = [];
    for (var r = 0; r < R; r++) {
      surfStart[r] = surf.ni;
      var b0 = boxStart[r], b1 = boxStart[r + 1];
      // boxes of rank r by the planes their low and high faces lie on
      var planes = new Map();
      for (var i = b0; i < b1; i++) {
        for (var a = 0; a < 3; a++) {
          var kl = (2 * a) * KEY + BL[3 * i + a], kh = (2 * a + 1) * KEY + BH[3 * i + a];
          var l = planes.get(kl); if (!l) planes.set(kl, l = []); l.push(i);
          l = planes.get(kh); if (!l) planes.set(kh, l = []); l.push(i);
        }
      }
      for (var i = b0; i < b1; i++) {
        for (var a = 0; a < 3; a++) {
          var ua = (a + 1) % 3, va = (a + 2) % 3;
          for (var hi = 0; hi < 2; hi++) {
            var c = hi ? BH[3 * i + a] : BL[3 * i + a];
            // boxes across the face: their opposite face lies on the same plane
            var across = planes.get((2 * a + (hi ? 0 : 1)) * KEY + c);
            face.length = 0;
            face.push(BL[3 * i + ua], BH[3 * i + ua], BL[3 * i + va], BH[3 * i + va]);
            if (across) {
              for (var t = 0; t < across.length && face.length; t++) {
                var j = across[t];
                var cu0 = BL[3 * j + ua], cu1 = BH[3 * j + ua], cv0 = BL[3 * j + va], cv1 = BH[3 * j + va];
                next.length = 0;
                for (var p = 0; p < face.length; p += 4) {
                  var u0 = face[p], u1 = face[p + 1], v0 = face[p + 2], v1 = face[p + 3];
                  var iu0 = Math.max(u0, cu0), iu1 = Math.min(u1, cu1), iv0 = Math.max(v0, cv0), iv1 = Math.min(v1, cv1);
                  if (iu0 >= iu1 || iv0 >= iv1) { next.push(u0, u1, v0, v1); continue; }
                  if (v0 < iv0) next.push(u0, u1, v0, iv0);
                  if (iv1 < v1) next.push(u0, u1, iv1, v1);
                  if (u0 < iu0) next.push(u0, iu0, iv0, iv1);
                  if (iu1 < u1) next.push(iu1, u1, iv0, iv1);
                }
                var tmp = face; face = next; next = tmp;
              }
            }
            for (var p = 0; p < face.length; p += 4) {
              surf.quad(a, c, face[p], face[p + 1], face[p + 2], face[p + 3], hi, r);
              rankArea[r] += (face[p + 1] - face[p]) * (face[p + 3] - face[p + 2]);
            }
          }
        }
      }
    }
    surfStart[R] = surf.ni;
  })();

  T.surface = performance.now();
  // ---- WebGL
  var canvas = $('gl');
  var opts = { antialias: true, alpha: false, preserveDrawingBuffer: false };
  var gl = canvas.getContext('webgl2', opts), gl2 = !!gl;
  if (!gl) gl = canvas.getContext('webgl', opts) || canvas.getContext('experimental-webgl', opts);
  if (!gl) { fail('This browser gives no WebGL context, which the viewer needs.'); return; }
  if (!gl2 && !gl.getExtension('OES_element_index_uint')) { fail('WebGL lacks 32-bit indices (OES_element_index_uint).'); return; }
  function fail(s) { var m = $('msg'); m.textContent = s; m.hidden = false; window.hiloError = s; }

  var VS = [
    'precision highp float;',
    'attribute vec3 aPos; attribute vec4 aCol;',
    'uniform mat4 uMVP; uniform float uDim; uniform vec3 uClipN;',
    'varying vec3 vCol; varying vec3 vPos; varying float vNd;',
    'void main() {',
    '  float dir = floor(aCol.a * 255.0 + 0.5);',
    '  float ax = floor(dir / 2.0); float sg = mod(dir, 2.0) * 2.0 - 1.0;',
    '  vec3 n = vec3(ax == 0.0 ? sg : 0.0, ax == 1.0 ? sg : 0.0, ax == 2.0 ? sg : 0.0);',
    '  float shade = 1.0;',
    '  if (ax == 0.0) shade = sg > 0.0 ? 0.84 : 0.64;',
    '  if (ax == 1.0) shade = sg > 0.0 ? 0.74 : 0.70;',
    '  if (ax == 2.0) shade = sg > 0.0 ? 1.0 : 0.56;',
    '  vec3 c = aCol.rgb;',
    '  float l = dot(c, vec3(0.299, 0.587, 0.114));',
    '  c = mix(c, vec3(0.30 + 0.35 * l), uDim);',
    '  vCol = c * shade; vPos = aPos; vNd = dot(n, uClipN);',
    '  gl_Position = uMVP * vec4(aPos, 1.0);',
    '}'].join('\n');
  var FS = [
    'precision highp float;',
    'uniform vec3 uClipN; uniform float uClipD; uniform float uAlpha; uniform vec4 uOver;',
    'varying vec3 vCol; varying vec3 vPos; varying float vNd;',
    'void main() {',
    '  float s = dot(vPos, uClipN);',
    '  if (s > uClipD + 1e-3) discard;',
    '  if (vNd < -0.5 && s > uClipD - 1e-3) discard;',
    '  gl_FragColor = vec4(mix(vCol, uOver.rgb, uOver.a), uAlpha);',
    '}'].join('\n');
  function shader(type, src) {
    var s = gl.createShader(type); gl.shaderSource(s, src); gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
    return s;
  }
  var prog = gl.createProgram();
  gl.attachShader(prog, shader(gl.VERTEX_SHADER, VS));
  gl.attachShader(prog, shader(gl.FRAGMENT_SHADER, FS));
  gl.bindAttribLocation(prog, 0, 'aPos'); gl.bindAttribLocation(prog, 1, 'aCol');
  gl.linkProgram(prog);
  if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
  gl.useProgram(prog);
  var U = {};
  ['uMVP', 'uDim', 'uClipN', 'uClipD', 'uAlpha', 'uOver'].forEach(function (n) { U[n] = gl.getUniformLocation(prog, n); });

  // a GPU copy of a Geo
  function Mesh() { this.vb = gl.createBuffer(); this.ib = gl.createBuffer(); this.n = 0; }
  Mesh.prototype.load = function (g) {
    gl.bindBuffer(gl.ARRAY_BUFFER, this.vb);
    gl.bufferData(gl.ARRAY_BUFFER, new Uint8Array(g.buf, 0, 16 * g.nv), gl.STATIC_DRAW);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.ib);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, g.idx.subarray(0, g.ni), gl.STATIC_DRAW);
    this.n = g.ni;
  };
  Mesh.prototype.bind = function () {
    gl.bindBuffer(gl.ARRAY_BUFFER, this.vb);
    gl.enableVertexAttribArray(0); gl.enableVertexAttribArray(1);
    gl.vertexAttribPointer(0, 3, gl.FLOAT, false, 16, 0);
    gl.vertexAttribPointer(1, 4, gl.UNSIGNED_BYTE, true, 16, 12);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.ib);
  };
  Mesh.prototype.draw = function (mode, i0, i1) {
    if (i1 > i0) gl.drawElements(mode, i1 - i0, gl.UNSIGNED_INT, 4 * i0);
  };
  T.program = performance.now();
  var surfMesh = new Mesh(); surfMesh.load(surf);
  var capMesh = new Mesh(), capStart = new Int32Array(R + 1);
  var ghostMesh = new Mesh(), edgeMesh = new Mesh(), frameMesh = new Mesh();
  (function () {
    var g = new Geo(64);
    g.boxEdges([0, 0, 0], G, 0);
    for (var v = 0; v < g.nv; v++) { g.u[16 * v + 12] = 110; g.u[16 * v + 13] = 118; g.u[16 * v + 14] = 134; }
    frameMesh.load(g);
  })();

  // ---- state
  var S = {
    pick: -1, nbrs: [], nbrSet: null, mode: 'focus', halo: true, edges: true,
    axis: -1, cut: 0, flip: false,
    yaw: -0.62, pitch: 0.52, dist: 1, target: [G[0] / 2, G[1] / 2, G[2] / 2]
  };
  var diag = Math.sqrt(G[0] * G[0] + G[1] * G[1] + G[2] * G[2]);
  function resetView() {
    S.yaw = -0.62; S.pitch = 0.52; S.dist = 1.7 * diag; S.target = [G[0] / 2, G[1] / 2, G[2] / 2];
  }
  resetView();

  // caps: the cross-section of every box the slice plane cuts
  function buildCaps() {
    var g = new Geo(256);
    var a = S.axis;
    for (var r = 0; r < R; r++) {
      capStart[r] = g.ni;
      if (a < 0) continue;
      var s = S.cut, ua = (a + 1) % 3, va = (a + 2) % 3;
      if ((!S.flip && s >= G[a]) || (S.flip && s <= 0)) continue;
      for (var i = boxStart[r]; i < boxStart[r + 1]; i++) {
        var lo = BL[3 * i + a], hi = BH[3 * i + a];
        if (S.flip ? (lo <= s && s < hi) : (lo < s && s <= hi))
          g.quad(a, s, BL[3 * i + ua], BH[3 * i + ua], BL[3 * i + va], BH[3 * i + va], !S.flip, r);
      }
    }
    capStart[R] = g.ni;
    capMesh.load(g);
  }
  buildCaps();

  // the ghost blocks and box edges of the picked rank
  function buildPick() {
    var g = new Geo(256), e = new Geo(64), r = S.pick;
    if (r >= 0) {
      if (ghostStart) {
        var gh = D.ghosts;
        for (var k = ghostStart[r]; k < ghostStart[r + 1]; k++) {
          var o = 7 * k, lo = [gh[o + 1], gh[o + 2], gh[o + 3]];
          g.box(lo, [lo[0] + gh[o + 4], lo[1] + gh[o + 5], lo[2] + gh[o + 6]], gh[o]);
        }
      }
      for (var i = boxStart[r]; i < boxStart[r + 1]; i++) {
        e.boxEdges([BL[3 * i], BL[3 * i + 1], BL[3 * i + 2]], [BH[3 * i], BH[3 * i + 1], BH[3 * i + 2]], r);
      }
      for (var v = 0; v < e.nv; v++) { e.u[16 * v + 12] = 20; e.u[16 * v + 13] = 20; e.u[16 * v + 14] = 24; }
    }
    ghostMesh.load(g); edgeMesh.load(e);
  }
  buildPick();

  // ---- camera
  function sub(a, b) { return [a[0] - b[0], a[1] - b[1], a[2] - b[2]]; }
  function cross(a, b) { return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]; }
  function norm(a) { var l = Math.hypot(a[0], a[1], a[2]) || 1; return [a[0] / l, a[1] / l, a[2] / l]; }
  function dot(a, b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
  var FOV = 35 * Math.PI / 180;
  function camera() {
    var cp = Math.cos(S.pitch), off = [cp * Math.cos(S.yaw), cp * Math.sin(S.yaw), Math.sin(S.pitch)];
    var eye = [S.target[0] + S.dist * off[0], S.target[1] + S.dist * off[1], S.target[2] + S.dist * off[2]];
    var fwd = norm(sub(S.target, eye)), right = norm(cross(fwd, [0, 0, 1])), up = cross(right, fwd);
    var w = canvas.width || 1, h = canvas.height || 1, aspect = w / h;
    var near = Math.max(S.dist - diag, S.dist * 0.02, 0.05), far = S.dist + 2 * diag;
    var f = 1 / Math.tan(FOV / 2);
    // view (row-major thinking, stored column-major)
    var V = [right[0], up[0], -fwd[0], 0, right[1], up[1], -fwd[1], 0, right[2], up[2], -fwd[2], 0,
      -dot(right, eye), -dot(up, eye), dot(fwd, eye), 1];
    var Pm = [f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) / (near - far), -1, 0, 0, 2 * far * near / (near - far), 0];
    var MVP = new Float32Array(16);
    for (var i = 0; i < 4; i++) for (var j = 0; j < 4; j++) {
      var s = 0; for (var k = 0; k < 4; k++) s += Pm[k * 4 + j] * V[i * 4 + k];
      MVP[i * 4 + j] = s;
    }
    return { eye: eye, fwd: fwd, right: right, up: up, aspect: aspect, mvp: MVP, f: f };
  }

  // ---- drawing
  var cam = null;
  function clip() {
    var n = [0, 0, 0], d = 1;
    if (S.axis >= 0) { n[S.axis] = S.flip ? -1 : 1; d = S.flip ? -S.cut : S.cut; }
    return { n: n, d: d };
  }
  function ranges(mesh, start, ranks, mode) {
    for (var k = 0; k < ranks.length; k++) mesh.draw(mode, start[ranks[k]], start[ranks[k] + 1]);
  }
  function draw() {
    resize();
    if (!T.layout) T.layout = performance.now();
    cam = camera();
    gl.viewport(0, 0, canvas.width, canvas.height);
    gl.clearColor(0.114, 0.129, 0.161, 1);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    gl.enable(gl.DEPTH_TEST); gl.depthFunc(gl.LEQUAL); gl.depthMask(true);
    gl.enable(gl.CULL_FACE); gl.cullFace(gl.BACK); gl.disable(gl.BLEND);
    gl.useProgram(prog);
    gl.uniformMatrix4fv(U.uMVP, false, cam.mvp);
    var c = clip();
    gl.uniform3fv(U.uClipN, c.n); gl.uniform1f(U.uClipD, c.d);
    gl.uniform1f(U.uAlpha, 1); gl.uniform1f(U.uDim, 0); gl.uniform4f(U.uOver, 0, 0, 0, 0);
    var p = S.pick, all = p < 0 || S.mode === 'all';
    var hot = p < 0 ? [] : [p].concat(S.nbrs);
    // opaque pass
    if (all) {
      gl.uniform1f(U.uDim, p < 0 ? 0 : 0.8);
      surfMesh.bind(); surfMesh.draw(gl.TRIANGLES, 0, surfMesh.n);
      capMesh.bind(); capMesh.draw(gl.TRIANGLES, 0, capMesh.n);
      if (p >= 0) {
        gl.uniform1f(U.uDim, 0);
        surfMesh.bind(); ranges(surfMesh, surfStart, hot, gl.TRIANGLES);
        capMesh.bind(); ranges(capMesh, capStart, hot, gl.TRIANGLES);
      }
    } else {
      surfMesh.bind(); ranges(surfMesh, surfStart, [p], gl.TRIANGLES);
      capMesh.bind(); ranges(capMesh, capStart, [p], gl.TRIANGLES);
    }
    // lines: grid frame, edges of the picked rank's boxes
    frameMesh.bind(); gl.uniform1f(U.uDim, 0);
    gl.uniform3fv(U.uClipN, [0, 0, 0]); gl.uniform1f(U.uClipD, 1);
    frameMesh.draw(gl.LINES, 0, frameMesh.n);
    gl.uniform3fv(U.uClipN, c.n); gl.uniform1f(U.uClipD, c.d);
    if (p >= 0 && S.edges) { edgeMesh.bind(); edgeMesh.draw(gl.LINES, 0, edgeMesh.n); }
    // translucent pass: neighbours, then the ghost shell
    gl.enable(gl.BLEND); gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA); gl.depthMask(false);
    if (p >= 0 && S.mode === 'focus' && S.nbrs.length) {
      gl.uniform1f(U.uAlpha, 0.22);
      surfMesh.bind(); ranges(surfMesh, surfStart, S.nbrs, gl.TRIANGLES);
      capMesh.bind(); ranges(capMesh, capStart, S.nbrs, gl.TRIANGLES);
    }
    if (p >= 0 && S.halo && ghostMesh.n) {
      gl.uniform1f(U.uAlpha, 0.5); gl.uniform4f(U.uOver, 1, 1, 1, 0.25);
      ghostMesh.bind(); ghostMesh.draw(gl.TRIANGLES, 0, ghostMesh.n);
    }
    gl.depthMask(true); gl.disable(gl.BLEND);
    drawAxes();
  }
  var pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  }
  function resize() {
    var dpr = window.devicePixelRatio || 1;
    var w = Math.max(1, Math.round(canvas.clientWidth * dpr)), h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  }
  var axesCtx = $('axes').getContext('2d');
  function drawAxes() {
    var x = axesCtx, s = 48;
    x.clearRect(0, 0, 96, 96);
    x.lineWidth = 2; x.font = 'bold 12px sans-serif'; x.textAlign = 'center'; x.textBaseline = 'middle';
    var cols = ['#e5575a', '#5bc26a', '#5b8de5'];
    var ax = [[1, 0, 0], [0, 1, 0], [0, 0, 1]].map(function (e, i) {
      return { i: i, x: dot(e, cam.right), y: dot(e, cam.up), z: dot(e, cam.fwd) };
    }).sort(function (a, b) { return b.z - a.z; });
    ax.forEach(function (e) {
      x.strokeStyle = x.fillStyle = cols[e.i];
      x.beginPath(); x.moveTo(s, s); x.lineTo(s + 32 * e.x, s - 32 * e.y); x.stroke();
      x.fillText('xyz'[e.i], s + 40 * e.x, s - 40 * e.y);
    });
  }

  // ---- picking by casting a ray through the visible boxes
  function visibleRank(r) {
    if (S.pick < 0 || S.mode === 'all') return true;
    if (r === S.pick) return true;
    return S.mode === 'focus' && S.nbrSet[r] === 1;
  }
  function rayAt(px, py) {
    var rect = canvas.getBoundingClientRect();
    var nx = 2 * (px - rect.left) / rect.width - 1, ny = 1 - 2 * (py - rect.top) / rect.height;
    var t = 1 / cam.f, d = [0, 0, 0];
    for (var k = 0; k < 3; k++) d[k] = cam.fwd[k] + nx * t * cam.aspect * cam.right[k] + ny * t * cam.up[k];
    return { o: cam.eye, d: d };
  }
  function hit(px, py) {
    if (!cam) return null;
    var ray = rayAt(px, py), o = ray.o, d = ray.d, best = Infinity, bi = -1;
    var a = S.axis, s = S.cut, flip = S.flip;
    for (var i = 0; i < NB; i++) {
      if (!visibleRank(boxRank[i])) continue;
      var t0 = 0, t1 = best, ok = true;
      for (var k = 0; k < 3 && ok; k++) {
        var lo = BL[3 * i + k], hi = BH[3 * i + k];
        if (k === a) { if (flip) lo = Math.max(lo, s); else hi = Math.min(hi, s); if (lo >= hi) { ok = false; break; } }
        if (Math.abs(d[k]) < 1e-12) { if (o[k] < lo || o[k] > hi) ok = false; continue; }
        var ta = (lo - o[k]) / d[k], tb = (hi - o[k]) / d[k];
        if (ta > tb) { var tt = ta; ta = tb; tb = tt; }
        if (ta > t0) t0 = ta; if (tb < t1) t1 = tb;
        if (t0 > t1) ok = false;
      }
      if (ok && t0 < best) { best = t0; bi = i; }
    }
    if (bi < 0) return null;
    var cell = [0, 0, 0];
    for (var k = 0; k < 3; k++) {
      var v = o[k] + best * d[k] + 1e-4 * d[k];
      cell[k] = Math.min(BH[3 * bi + k] - 1, Math.max(BL[3 * bi + k], Math.floor(v)));
    }
    return { box: bi, rank: boxRank[bi], cell: cell };
  }

  // ---- user interface
  function fmt(n) { return n === undefined || n === null ? '\u2013' : Number(n).toLocaleString('en-US'); }
  function bytes(n) {
    if (n < 10240) return fmt(n) + ' B';
    var u = ['KiB', 'MiB', 'GiB', 'TiB'], v = n / 1024, i = 0;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return v.toFixed(1) + ' ' + u[i];
  }
  function node(r) { return D.ranksPerNode > 0 ? Math.floor(r / D.ranksPerNode) : r; }
  (function summary() {
    var parts = ['<b>' + G.join('\u00d7') + '</b> cells' + (D.periodic.some(function (p) { return p; }) ?
      ', periodic ' + [0, 1, 2].filter(function (a) { return D.periodic[a]; }).map(function (a) { return 'xyz'[a]; }).join('') : ''),
      '<b>' + fmt(R) + '</b> ranks, ' + fmt(NB) + ' boxes', 'method <b>' + esc(D.method) + '</b>'];
    if (D.ranksPerNode > 0) parts.push(D.ranksPerNode + ' ranks per node');
    if (M) {
      parts.push('imbalance <b>' + M.imbalance.toFixed(4) + '</b>');
      parts.push('cut faces <b>' + fmt(M.cutFaces) + '</b> (max per rank ' + fmt(M.maxRankCut) + ')');
      parts.push('halo ' + esc(D.halo) + ', ' + M.fields + '\u00d7' + M.scalarBytes + ' B, total <b>' + bytes(M.haloBytesIntra + M.haloBytesInter) + '</b>');
    } else parts.push('halo ' + esc(D.halo));
    if (D.note) parts.push('note: ' + esc(D.note));
    $('summary').innerHTML = parts.join(' &middot; ');
  })();
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; }); }

  // metrics columns of the rank table
  var cols = [
    { k: 'rank', h: 'rank', v: function (r) { return r; } },
    { k: 'cells', h: 'cells', v: function (r) { return D.cells[r]; } },
    { k: 'boxes', h: 'boxes', v: function (r) { return D.nbox[r]; } },
    { k: 'comp', h: 'comp', v: function (r) { return M ? M.components[r] : null; } },
    { k: 'cut', h: 'cut', v: function (r) { return M ? M.cut[r] : null; } },
    { k: 'nbrs', h: 'nbrs', v: function (r) { return M ? M.neighbours[r] : null; } },
    { k: 'halo', h: 'halo B', v: function (r) { return M ? M.haloBytes[r] : null; } }
  ];
  var order = new Int32Array(R); for (var r = 0; r < R; r++) order[r] = r;
  var sortCol = 0, sortDesc = false, ROWH = 18;
  (function header() {
    var h = document.createElement('div'); h.className = 'row';
    cols.forEach(function (c, i) {
      var s = document.createElement('span'); s.textContent = c.h; s.title = 'sort by ' + c.h;
      s.onclick = function () {
        sortDesc = sortCol === i ? !sortDesc : i !== 0; sortCol = i;
        var arr = Array.prototype.slice.call(order).sort(function (a, b) {
          var x = c.v(a), y = c.v(b); return (x === y ? a - b : (x < y ? -1 : 1)) * (sortDesc ? -1 : 1);
        });
        order = Int32Array.from(arr); renderRows(true);
      };
      h.appendChild(s);
    });
    $('thead').appendChild(h);
  })();
  var tscroll = $('tscroll'), trows = $('trows');
  $('tspace').style.height = (R * ROWH) + 'px';
  function renderRows(force) {
    var top = tscroll.scrollTop, n = Math.ceil((tscroll.clientHeight || 400) / ROWH) + 2;
    var first = Math.max(0, Math.floor(top / ROWH) - 1), last = Math.min(R, first + n + 2);
    if (!force && renderRows.first === first && renderRows.last === last) return;
    renderRows.first = first; renderRows.last = last;
    trows.style.top = (first * ROWH) + 'px';
    var html = [];
    for (var i = first; i < last; i++) {
      var r = order[i], cl = r === S.pick ? 'row picked' : (S.nbrSet && S.nbrSet[r] ? 'row nbr' : 'row');
      html.push('<div class="' + cl + '" data-r="' + r + '"><span><i class="swatch" style="background:' + css(r) + '"></i>' + r + '</span>');
      for (var k = 1; k < cols.length; k++) html.push('<span>' + fmt(cols[k].v(r)) + '</span>');
      html.push('</div>');
    }
    trows.innerHTML = html.join('');
  }
  tscroll.addEventListener('scroll', function () { renderRows(false); });
  trows.addEventListener('click', function (e) {
    var el = e.target.closest('.row'); if (el) pick(+el.getAttribute('data-r'));
  });

  function setText(id, v) { $(id).textContent = v; }
  function pick(r) {
    r = Math.floor(Number(r));
    if (!(r >= 0 && r < R)) r = -1;
    S.pick = r;
    S.nbrs = r >= 0 ? neighbours(r) : [];
    S.nbrSet = new Uint8Array(R);
    for (var k = 0; k < S.nbrs.length; k++) S.nbrSet[S.nbrs[k]] = 1;
    buildPick();
    $('rank').value = r >= 0 ? r : '';
    if (r < 0) {
      setText('pick-title', 'no rank picked');
      ['cells', 'boxes', 'components', 'cut', 'neighbours', 'halocells', 'halobytes', 'node'].forEach(function (k) { setText('pick-' + k, '\u2013'); });
      $('peers').innerHTML = '';
    } else {
      $('pick-title').innerHTML = '<i class="swatch" style="background:' + css(r) + '"></i>rank ' + r;
      setText('pick-cells', fmt(D.cells[r]));
      setText('pick-boxes', fmt(D.nbox[r]));
      setText('pick-components', M ? fmt(M.components[r]) : '\u2013');
      setText('pick-cut', M ? fmt(M.cut[r]) : '\u2013');
      setText('pick-neighbours', M ? fmt(M.neighbours[r]) : fmt(S.nbrs.length));
      setText('pick-halocells', M ? fmt(M.haloCells[r]) : '\u2013');
      setText('pick-halobytes', M ? bytes(M.haloBytes[r]) : '\u2013');
      setText('pick-node', fmt(node(r)));
      var h = [];
      if (M) {
        for (var j = peerStart[r]; j < peerStart[r + 1]; j++) {
          var q = M.peers[3 * j];
          h.push('<a data-r="' + q + '" title="' + fmt(M.peers[3 * j + 1]) + ' cells' + (node(q) === node(r) ? ', same node' : '') + '">' +
            '<i class="swatch" style="background:' + css(q) + '"></i>' + q + ': ' + bytes(M.peers[3 * j + 2]) + '</a>');
        }
      } else {
        S.nbrs.forEach(function (q) { h.push('<a data-r="' + q + '"><i class="swatch" style="background:' + css(q) + '"></i>' + q + '</a>'); });
      }
      $('peers').innerHTML = h.length ? 'receives from: ' + h.join(' ') : 'no neighbours';
      // scroll the table to the picked rank
      var pos = 0; for (var i = 0; i < R; i++) if (order[i] === r) { pos = i; break; }
      var top = pos * ROWH, vh = tscroll.clientHeight;
      if (top < tscroll.scrollTop || top + ROWH > tscroll.scrollTop + vh) tscroll.scrollTop = Math.max(0, top - vh / 2);
    }
    try { history.replaceState(null, '', r >= 0 ? '#rank=' + r : location.pathname + location.search); } catch (e) { /* some file:// pages refuse */ }
    renderRows(true);
    redraw();
    return r;
  }
  $('peers').addEventListener('click', function (e) { var a = e.target.closest('a'); if (a) pick(+a.getAttribute('data-r')); });
  $('rank').max = R - 1;
  $('rank').addEventListener('change', function () { pick(this.value === '' ? -1 : this.value); });
  $('prev').onclick = function () { pick(S.pick <= 0 ? R - 1 : S.pick - 1); };
  $('next').onclick = function () { pick(S.pick >= R - 1 ? 0 : S.pick + 1); };
  $('clear').onclick = function () { pick(-1); };
  $('mode').onchange = function () { S.mode = this.value; redraw(); };
  $('halo').onchange = function () { S.halo = this.checked; redraw(); };
  $('edges').onchange = function () { S.edges = this.checked; redraw(); };
  if (!ghostStart) { $('halo').checked = false; $('halo').disabled = true; S.halo = false; }
  function syncCut() {
    var a = S.axis, el = $('cut');
    el.disabled = a < 0;
    if (a < 0) { $('cutval').textContent = ''; return; }
    el.max = G[a];
    $('cutval').textContent = (S.flip ? 'xyz'[a] + ' \u2265 ' : 'xyz'[a] + ' < ') + S.cut + ' of ' + G[a];
  }
  $('axis').onchange = function () {
    S.axis = +this.value;
    if (S.axis >= 0) { S.cut = Math.round(G[S.axis] / 2); $('cut').max = G[S.axis]; $('cut').value = S.cut; }
    syncCut(); buildCaps(); redraw();
  };
  $('cut').oninput = function () { S.cut = +this.value; syncCut(); buildCaps(); redraw(); };
  $('flip').onchange = function () { S.flip = this.checked; syncCut(); buildCaps(); redraw(); };
  $('reset').onclick = function () { resetView(); redraw(); };
  // frame: aim at the picked rank and its neighbours, or at the whole grid
  function frame() {
    if (S.pick < 0) { resetView(); redraw(); return; }
    var lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    [S.pick].concat(S.mode === 'focus' ? S.nbrs : []).forEach(function (r) {
      for (var i = boxStart[r]; i < boxStart[r + 1]; i++) for (var a = 0; a < 3; a++) {
        lo[a] = Math.min(lo[a], BL[3 * i + a]); hi[a] = Math.max(hi[a], BH[3 * i + a]);
      }
    });
    var e = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
    S.target = [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2];
    S.dist = Math.max(1.7 * Math.hypot(e[0], e[1], e[2]), 0.02 * diag);
    redraw();
  }
  $('frame').onclick = frame;

  // mouse: drag rotates, shift/right drag pans, wheel zooms, a click picks
  var drag = null, tip = $('tip');
  canvas.addEventListener('contextmenu', function (e) { e.preventDefault(); });
  canvas.addEventListener('pointerdown', function (e) {
    drag = { x: e.clientX, y: e.clientY, x0: e.clientX, y0: e.clientY, pan: e.shiftKey || e.button === 2, moved: false };
    canvas.setPointerCapture(e.pointerId); canvas.classList.add('dragging'); canvas.focus();
  });
  canvas.addEventListener('pointermove', function (e) {
    if (!drag) { hover(e.clientX, e.clientY); return; }
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    drag.x = e.clientX; drag.y = e.clientY;
    if (Math.abs(e.clientX - drag.x0) + Math.abs(e.clientY - drag.y0) > 3) drag.moved = true;
    if (drag.pan) {
      var k = 2 * S.dist * Math.tan(FOV / 2) / canvas.clientHeight;
      for (var i = 0; i < 3; i++) S.target[i] += k * (-dx * cam.right[i] + dy * cam.up[i]);
    } else {
      S.yaw -= dx * 0.008;
      S.pitch = Math.max(-1.55, Math.min(1.55, S.pitch + dy * 0.008));
    }
    tip.hidden = true;
    redraw();
  });
  canvas.addEventListener('pointerup', function (e) {
    if (drag && !drag.moved) {
      var h = hit(e.clientX, e.clientY);
      pick(h ? h.rank : -1);
    }
    drag = null; canvas.classList.remove('dragging');
  });
  canvas.addEventListener('pointerleave', function () { tip.hidden = true; });
  canvas.addEventListener('wheel', function (e) {
    e.preventDefault();
    var d = e.deltaMode === 1 ? e.deltaY * 33 : e.deltaY;
    S.dist = Math.max(0.02 * diag, Math.min(20 * diag, S.dist * Math.exp(d * 0.0015)));
    redraw();
  }, { passive: false });
  window.addEventListener('keydown', function (e) {
    if (e.target && /INPUT|SELECT/.test(e.target.tagName)) return;
    if (e.key === 'Escape') pick(-1);
    if (e.key === 'f') frame();
  });
  window.addEventListener('resize', function () { renderRows(true); redraw(); });
  var hoverAt = null;
  function hover(x, y) {
    if (hoverAt) { hoverAt = [x, y]; return; }
    hoverAt = [x, y];
    requestAnimationFrame(function () {
      var p = hoverAt; hoverAt = null;
      var h = hit(p[0], p[1]);
      if (!h) { tip.hidden = true; return; }
      var i = h.box, rect = canvas.getBoundingClientRect();
      tip.innerHTML = '<i class="swatch" style="background:' + css(h.rank) + '"></i>rank ' + h.rank + ' &middot; cell ' + h.cell.join(',') +
        '<br>box [' + BL[3 * i] + ',' + BL[3 * i + 1] + ',' + BL[3 * i + 2] + ')\u2013[' + BH[3 * i] + ',' + BH[3 * i + 1] + ',' + BH[3 * i + 2] + ')';
      tip.style.left = (p[0] - rect.left + 14) + 'px'; tip.style.top = (p[1] - rect.top + 14) + 'px';
      tip.hidden = false;
    });
  }

  T.ui = performance.now();
  // ---- first frame, and the hooks tests use
  var m0 = /rank=(\d+)/.exec(location.hash);
  if (m0) pick(+m0[1]); else renderRows(true);
  T.rows = performance.now();
  draw();
  T.draw = performance.now();
  var px = new Uint8Array(4);
  gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px); // waits for the frame to finish
  window.hiloLoadMs = T.frame = performance.now();
  window.hiloTimes = T;
  $('status').textContent = fmt(NB) + ' boxes, ' + fmt(surf.ni / 6) + ' faces; ready in ' + Math.round(window.hiloLoadMs) + ' ms (' + (gl2 ? 'WebGL 2' : 'WebGL 1') + ')';
  window.hiloPick = function (r) { var got = pick(r); draw(); return got; };
  window.hiloSlice = function (axis, cut, flip) {
    S.axis = axis; S.cut = cut; S.flip = !!flip;
    $('axis').value = String(axis); $('cut').max = axis >= 0 ? G[axis] : 1; $('cut').value = cut; $('flip').checked = S.flip;
    syncCut(); buildCaps(); draw(); return true;
  };
  window.hiloFrame = function () { frame(); draw(); return true; };
  window.hiloMode = function (m) { S.mode = m; $('mode').value = m; draw(); return m; };
  window.hiloStats = function () {
    return { ranks: R, boxes: NB, faces: surf.ni / 6, ghosts: ghostStart ? ghostStart[R] : 0, area: Array.from(rankArea), webgl2: gl2 };
  };
  // hiloPixels draws a frame and counts the pixels that differ from the background.
  window.hiloPixels = function () {
    draw();
    var w = canvas.width, h = canvas.height, a = new Uint8Array(4 * w * h), n = 0;
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, a);
    for (var i = 0; i < a.length; i += 4) if (Math.abs(a[i] - 29) + Math.abs(a[i + 1] - 33) + Math.abs(a[i + 2] - 41) > 12) n++;
    return { w: w, h: h, lit: n };
  };
  // hiloProbe draws a frame and tells what lies under canvas point (fx, fy),
  // given as fractions of the canvas size: the rank and cell a click there
  // would pick, and the colour of the pixel.
  window.hiloProbe = function (fx, fy) {
    draw();
    var rect = canvas.getBoundingClientRect();
    var x = rect.left + fx * rect.width, y = rect.top + fy * rect.height, h = hit(x, y), a = new Uint8Array(4);
    // interior: the pixels 3 px around show the same rank, so antialiasing
    // of a rank boundary cannot have touched this one
    var interior = !!h;
    for (var k = 0; k < 4 && interior; k++) {
      var g = hit(x + (k & 1 ? 3 : -3), y + (k & 2 ? 3 : -3));
      interior = !!g && g.rank === h.rank;
    }
    gl.readPixels(Math.floor(fx * canvas.width), canvas.height - 1 - Math.floor(fy * canvas.height), 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, a);
    return { rank: h ? h.rank : -1, cell: h ? h.cell : null, rgb: [a[0], a[1], a[2]], interior: interior };
  };
  window.hiloReady = true;
})();
