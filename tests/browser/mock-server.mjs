#!/usr/bin/env node
// A stand-in for `dne serve` (live mode) or for a site exported with
// `dne serve --export DIR` (static mode), for testing web/ without the
// daemon. Node's http module only, no dependencies.
//
//   node tests/browser/mock-server.mjs [--port 0] [--host 127.0.0.1]
//        [--static] [--prefix /some/path/] [--faces DIR] [--count N]
//        [--render-ms MS] [--size PX] [--web DIR] [--root DIR]
//
// Prints `mock-server: listening on http://HOST:PORT/PREFIX` on stdout once
// ready and runs until SIGINT/SIGTERM.
//
// Live mode (the daemon's contract, see web/README.md):
//   GET api/random            200 {"id","url","seed","psi"}, Cache-Control: no-store
//   GET api/face?seed=N&psi=X 200 the same for that face (after --render-ms),
//                             400 {"error"} for bad parameters,
//                             503 {"error"} + Retry-After while "busy"
//   GET faces/<id>.webp       the image, cacheable forever
//   GET random.webp           302 to a random face
// Static mode: faces.json (an array of the same objects), faces/<id>.webp,
// random.webp (a file), and no api/ (404, HTML).
// --root DIR: a plain static host for a site exported with
// `dne serve --export DIR` (its files, nothing else; implies --static).
//
// Images: the files of --faces DIR (webp, png, jpeg; a `seedN` in the file
// name gives the face that seed), else small synthetic PNGs drawn here.
// Whatever their format, they are served under faces/<id>.webp with their
// real Content-Type (browsers sniff images anyway). Face ids have the
// daemon's format, s<seed:10>-p<sign><psi*1000:4>-<fingerprint:8>.
//
// Imported, startMock(options) returns {url, faces, stats, close(),
// setBusy(n), setEmpty(bool)}: setBusy(n) makes the next n api/face requests
// answer 503; setEmpty(true) makes api/random answer 503 (an empty pool).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_WEB = path.resolve(HERE, '../../web');
const FINGERPRINT = '6d6f636b'; // "mock"
const MAX_SEED = 4294967295;

export function faceId(seed, psiMilli) {
  const sign = psiMilli < 0 ? '-' : '+';
  return `s${String(seed).padStart(10, '0')}-p${sign}${String(Math.abs(psiMilli)).padStart(4, '0')}-${FINGERPRINT}`;
}

// ---- images ----------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

// A small RGB PNG that differs visibly between seeds: a two-colour radial
// gradient with two "eyes".
export function syntheticPng(seed, size = 128) {
  let x = (seed ^ 0x9e3779b9) >>> 0;
  const rnd = () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
  const c1 = [rnd(), rnd(), rnd()].map((v) => 60 + v * 195);
  const c2 = [rnd(), rnd(), rnd()].map((v) => 20 + v * 120);
  const eye = [rnd(), rnd(), rnd()].map((v) => v * 255);
  const raw = Buffer.alloc(size * (size * 3 + 1));
  for (let j = 0; j < size; j++) {
    raw[j * (size * 3 + 1)] = 0; // filter: none
    for (let i = 0; i < size; i++) {
      const u = i / size - 0.5, v = j / size - 0.5;
      const r = Math.min(1, Math.hypot(u, v) * 1.6);
      const inEye = Math.hypot(Math.abs(u) - 0.15, v + 0.05) < 0.07;
      const o = j * (size * 3 + 1) + 1 + i * 3;
      for (let k = 0; k < 3; k++) raw[o + k] = inEye ? eye[k] : c1[k] * (1 - r) + c2[k] * r;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function imageType(buf) {
  if (buf.length >= 12 && buf.toString('ascii', 0, 4) === 'RIFF' && buf.toString('ascii', 8, 12) === 'WEBP') return 'image/webp';
  if (buf.length >= 8 && buf[0] === 0x89 && buf.toString('ascii', 1, 4) === 'PNG') return 'image/png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'image/jpeg';
  return 'application/octet-stream';
}

function loadFolder(dir) {
  const files = fs.readdirSync(dir)
    .filter((f) => /\.(webp|png|jpe?g)$/i.test(f))
    .sort();
  if (files.length === 0) throw new Error(`${dir}: no .webp, .png or .jpg files`);
  return files.map((f) => {
    const m = /seed0*(\d+)/i.exec(f);
    return { name: f, seed: m ? Number(m[1]) : null, bytes: fs.readFileSync(path.join(dir, f)) };
  });
}

// ---- server ----------------------------------------------------------------

const STATIC_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.webp': 'image/webp',
  '.png': 'image/png',
};

// --root: the files of an exported site, like any static web server.
function serveRoot(root, rel, req, res, notFound) {
  const file = rel === '' || rel.endsWith('/') ? `${rel}index.html` : rel;
  const parts = file.split('/');
  if (parts.some((p) => p === '' || p.startsWith('.') || !/^[\w.+-]+$/.test(p))) return notFound(res);
  let body;
  try {
    body = fs.readFileSync(path.join(root, ...parts));
  } catch {
    return notFound(res);
  }
  res.writeHead(200, {
    'Content-Type': STATIC_TYPES[path.extname(file)] || 'application/octet-stream',
    'Content-Length': body.length,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export async function startMock(options = {}) {
  const opt = {
    host: '127.0.0.1', port: 0, static: false, prefix: '/', faces: null, count: 12,
    renderMs: 300, web: DEFAULT_WEB, size: 128, ...options,
  };
  let prefix = opt.prefix || '/';
  if (!prefix.startsWith('/')) prefix = `/${prefix}`;
  if (!prefix.endsWith('/')) prefix += '/';

  if (opt.root) opt.static = true;
  const folder = opt.faces && !opt.root ? loadFolder(opt.faces) : null;
  const images = new Map(); // id -> bytes
  const faces = [];         // the pool (live) or the export (static)
  const stats = { requests: 0, face: 0, busy: 0, random: 0 };
  let busy = 0;
  let empty = false;

  function imageFor(seed, psiMilli) {
    if (!folder) return syntheticPng(seed, opt.size);
    const bySeed = folder.find((f) => f.seed === seed);
    return (bySeed || folder[(seed + Math.abs(psiMilli)) % folder.length]).bytes;
  }

  function addFace(seed, psiMilli) {
    const id = faceId(seed, psiMilli);
    if (!images.has(id)) images.set(id, imageFor(seed, psiMilli));
    return { id, url: `faces/${id}.webp`, seed, psi: psiMilli / 1000 };
  }

  // The pool: the folder's seeds if it names them, else pseudo-random ones;
  // psi in [0.5, 1.0] with three decimals, like the daemon's random faces.
  let r = 12345;
  const next = () => { r = (Math.imul(r, 1103515245) + 12345) >>> 0; return r; };
  const named = folder ? folder.filter((f) => f.seed !== null) : [];
  const n = opt.root ? 0 : named.length > 0 ? named.length : opt.count;
  if (opt.root) faces.push(...JSON.parse(fs.readFileSync(path.join(opt.root, 'faces.json'), 'utf8')));
  for (let i = 0; i < n; i++) {
    const seed = named.length > 0 ? named[i].seed : next() % 100000;
    const psiMilli = named.length > 0 ? 700 : 500 + (next() % 501);
    faces.push(addFace(seed, psiMilli));
  }

  const json = (res, status, body, headers = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
    res.end(JSON.stringify(body));
  };
  const notFound = (res) => {
    res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>404 Not Found</title><h1>Not Found</h1>');
  };
  const pick = () => faces[Math.floor(Math.random() * faces.length)];

  async function handle(req, res) {
    stats.requests++;
    const url = new URL(req.url, 'http://mock');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' });
      res.end();
      return;
    }
    if (url.pathname === prefix.slice(0, -1) && prefix !== '/') {
      res.writeHead(301, { Location: prefix + url.search });
      res.end();
      return;
    }
    if (!url.pathname.startsWith(prefix)) return notFound(res);
    const rel = url.pathname.slice(prefix.length);
    if (opt.root) return serveRoot(opt.root, decodeURIComponent(rel), req, res, notFound);

    if (!opt.static && rel === 'api/random') {
      stats.random++;
      if (empty) return json(res, 503, { error: 'no face has been rendered yet' }, { 'Retry-After': '1' });
      return json(res, 200, pick());
    }
    if (!opt.static && rel === 'api/face') {
      stats.face++;
      const seedText = url.searchParams.get('seed');
      const psiText = url.searchParams.get('psi') ?? '1';
      if (seedText === null || !/^\d{1,10}$/.test(seedText) || Number(seedText) > MAX_SEED)
        return json(res, 400, { error: `seed must be an integer from 0 to ${MAX_SEED}` });
      const psi = Number(psiText);
      if (psiText.trim() === '' || !Number.isFinite(psi) || Math.abs(psi) > 2)
        return json(res, 400, { error: 'psi must be a number from -2 to 2' });
      if (busy > 0) {
        busy--;
        stats.busy++;
        return json(res, 503, { error: 'the render queue is full' }, { 'Retry-After': '1' });
      }
      await new Promise((resolve) => setTimeout(resolve, opt.renderMs));
      return json(res, 200, addFace(Number(seedText), Math.round(psi * 1000)));
    }
    if (opt.static && rel === 'faces.json') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(faces));
      return;
    }
    const m = /^faces\/([A-Za-z0-9+-]+)\.webp$/.exec(rel);
    if (m) {
      const bytes = images.get(m[1]);
      if (!bytes || (opt.static && !faces.some((f) => f.id === m[1]))) return notFound(res);
      res.writeHead(200, {
        'Content-Type': imageType(bytes),
        'Content-Length': bytes.length,
        'Cache-Control': 'public, max-age=31536000, immutable',
      });
      res.end(req.method === 'HEAD' ? undefined : bytes);
      return;
    }
    if (rel === 'random.webp') {
      if (opt.static) {
        const bytes = images.get(faces[0].id);
        res.writeHead(200, { 'Content-Type': imageType(bytes), 'Content-Length': bytes.length });
        res.end(req.method === 'HEAD' ? undefined : bytes);
      } else {
        res.writeHead(302, { Location: pick().url, 'Cache-Control': 'no-store' });
        res.end();
      }
      return;
    }
    // The page itself, from web/.
    const file = rel === '' ? 'index.html' : rel;
    if (!/^[A-Za-z0-9._-]+$/.test(file) || file.startsWith('.')) return notFound(res);
    let body;
    try {
      body = fs.readFileSync(path.join(opt.web, file));
    } catch {
      return notFound(res);
    }
    res.writeHead(200, {
      'Content-Type': STATIC_TYPES[path.extname(file)] || 'application/octet-stream',
      'Cache-Control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) json(res, 500, { error: String(e) });
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opt.port, opt.host, resolve);
  });
  const { port } = server.address();
  const host = opt.host.includes(':') ? `[${opt.host}]` : opt.host;
  return {
    url: `http://${host}:${port}${prefix}`,
    faces,
    stats,
    setBusy(count) { busy = count; },
    setEmpty(value) { empty = value; },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

// ---- command line ----------------------------------------------------------

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port') o.port = Number(value());
    else if (a === '--host') o.host = value();
    else if (a === '--static') o.static = true;
    else if (a === '--prefix') o.prefix = value();
    else if (a === '--faces') o.faces = value();
    else if (a === '--count') o.count = Number(value());
    else if (a === '--render-ms') o.renderMs = Number(value());
    else if (a === '--size') o.size = Number(value());
    else if (a === '--web') o.web = value();
    else if (a === '--root') o.root = value();
    else if (a === '--help' || a === '-h') {
      process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8')
        .split('\n').filter((l) => l.startsWith('//')).slice(0, 30).map((l) => l.slice(3)).join('\n') + '\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (--help lists them)`);
  }
  return o;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`mock-server: ${e.message}\n`);
    process.exit(2);
  }
  const mock = await startMock(o);
  process.stdout.write(`mock-server: listening on ${mock.url} (${o.static ? 'static' : 'live'} mode, ${mock.faces.length} faces)\n`);
  const stop = () => mock.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
