#!/usr/bin/env node
// Browser test of the web page (web/) in headless Chromium.
//
//   node tests/browser/page.test.mjs http://127.0.0.1:8080/   # or BASE_URL=...
//   node tests/browser/page.test.mjs --mock live               # starts mock-server.mjs itself
//   node tests/browser/page.test.mjs --mock static [--faces DIR] [--prefix /site/]
//   node tests/browser/page.test.mjs --mock static --root EXPORTED_SITE_DIR
//
// The mode (live daemon or static export) is detected from the server;
// PAGE_TEST_MODE=live|static makes a mismatch a failure. Screenshots go to
// ARTIFACTS_DIR (default ./artifacts). CHROMIUM overrides /usr/bin/chromium.
// Prints one line per check; exit status 0 when all pass, 1 otherwise.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { checkHtml } from './html-check.mjs';
import { startMock } from './mock-server.mjs';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const FADE_MS = 800;

// ---- arguments -------------------------------------------------------------

function usage(message) {
  if (message) console.error(`page.test: ${message}`);
  console.error('usage: node page.test.mjs [BASE_URL] | --mock live|static [--faces DIR | --root DIR] [--prefix P]');
  process.exit(2);
}

const opts = { base: process.env.BASE_URL || null, mock: null, faces: null, root: null, prefix: '/' };
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    if (a === '--mock') opts.mock = value();
    else if (a === '--faces') opts.faces = value();
    else if (a === '--root') opts.root = value();
    else if (a === '--prefix') opts.prefix = value();
    else if (a === '--help' || a === '-h') usage();
    else if (!a.startsWith('-')) opts.base = a;
    else usage(`unknown argument ${a}`);
  }
  if (opts.mock && !['live', 'static'].includes(opts.mock)) usage('--mock takes live or static');
  if (!opts.base && !opts.mock) opts.mock = 'live';
}
const expectedMode = process.env.PAGE_TEST_MODE || null;
const artifacts = path.resolve(process.env.ARTIFACTS_DIR || 'artifacts');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

// ---- reporting -------------------------------------------------------------

const results = [];
let phase = 'start';

async function check(name, fn) {
  phase = name;
  const t0 = Date.now();
  try {
    const detail = await fn();
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (detail && detail.skip) {
      console.log(`skip ${name}: ${detail.skip}`);
      results.push({ name, ok: true });
    } else {
      console.log(`ok   ${name}${detail ? `: ${detail}` : ''} (${secs} s)`);
      results.push({ name, ok: true });
    }
  } catch (e) {
    console.log(`FAIL ${name}: ${e && e.message ? e.message.split('\n')[0] : e}`);
    results.push({ name, ok: false });
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls fn (async, in Node) until it returns a truthy value.
async function waitFor(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`${what} (waited ${(timeoutMs / 1000).toFixed(1)} s)`);
    await sleep(100);
  }
}

// ---- the page --------------------------------------------------------------

// What the page shows: the current face and the text around it.
function state(page) {
  return page.evaluate(() => {
    const img = document.querySelector('#frame img.is-current');
    const text = (id) => (document.getElementById(id) || { textContent: '' }).textContent.trim();
    const dl = document.getElementById('download');
    const link = document.getElementById('permalink');
    return {
      src: img ? img.src : null,
      decoded: !!img && img.complete && img.naturalWidth > 0,
      naturalWidth: img ? img.naturalWidth : 0,
      alt: img ? img.alt : null,
      seed: text('seed'),
      psi: text('psi'),
      note: text('note'),
      pause: text('pause'),
      download: dl && dl.hasAttribute('href') ? dl.href : null,
      downloadName: dl ? dl.getAttribute('download') : null,
      permalink: link && link.hasAttribute('href') ? link.href : null,
    };
  });
}

async function waitForFace(page, timeoutMs = 10000) {
  return waitFor(async () => {
    const s = await state(page);
    return s.decoded ? s : null;
  }, timeoutMs, 'no decoded face on the page');
}

async function waitForChange(page, src, timeoutMs, what) {
  return waitFor(async () => {
    const s = await state(page);
    return s.decoded && s.src !== src ? s : null;
  }, timeoutMs, what);
}

// The caption, alt text, permalink and download link agree with each other.
function checkConsistent(s) {
  assert(/\/faces\/[^/]+\.webp$/.test(new URL(s.src).pathname), `img src ${s.src} is not faces/<id>.webp`);
  assert(/^\d+$/.test(s.seed), `seed "${s.seed}" is not an integer`);
  assert(/^-?\d+\.\d\d$/.test(s.psi), `psi "${s.psi}" does not have 2 decimals`);
  const alt = `Anime face generated by a neural network, seed ${s.seed}, psi ${s.psi}`;
  assert(s.alt === alt, `alt is "${s.alt}", expected "${alt}"`);
  assert(s.download === s.src, `download link ${s.download} is not the image ${s.src}`);
  const name = `seed${s.seed}-psi${s.psi}.webp`;
  assert(s.downloadName === name, `download name is "${s.downloadName}", expected "${name}"`);
  const link = new URL(s.permalink);
  assert(link.searchParams.get('seed') === s.seed, `permalink ${s.permalink} does not name seed ${s.seed}`);
  assert(Math.abs(Number(link.searchParams.get('psi')) - Number(s.psi)) <= 0.0051,
    `permalink ${s.permalink} does not name psi ${s.psi}`);
}

// ---- main ------------------------------------------------------------------

let mock = null;
let base = opts.base;
if (opts.mock) {
  mock = await startMock({ static: opts.mock === 'static', faces: opts.faces, root: opts.root, prefix: opts.prefix });
  base = mock.url;
  console.log(`page.test: started mock-server (${opts.mock} mode${opts.root ? `, serving ${opts.root}` : ''}) at ${base}`);
}
if (!/\/$/.test(new URL(base).pathname) && !/\.html?$/.test(new URL(base).pathname)) base += '/';
const at = (rel) => new URL(rel, base).href;

async function getJSON(rel) {
  const res = await fetch(at(rel), { headers: { Accept: 'application/json' } });
  let body = null;
  try {
    body = JSON.parse(await res.text());
  } catch {
    body = null;
  }
  return { status: res.status, body };
}

let mode;
try {
  const r = await getJSON('api/random');
  mode = r.status === 200 && r.body && typeof r.body.id === 'string' ? 'live' : 'static';
} catch (e) {
  console.log(`FAIL reach ${base}: ${e.cause ? e.cause.message : e.message}`);
  process.exit(1);
}
console.log(`page.test: ${base} (${mode} mode)`);
const shot = (name) => path.join(artifacts, mode === 'live' ? `${name}.png` : `${mode}-${name}.png`);

// Console errors and warnings, and page errors, tagged with the check that
// was running. Some checks provoke failed requests on purpose; those (and
// only those) are allowed.
const messages = [];
function allowed(m) {
  if (m.kind !== 'console' || m.type !== 'error' || !/^Failed to load resource/.test(m.text)) return false;
  const url = m.url || '';
  if (mode === 'static' && /\/api\/random$/.test(url) && /404/.test(m.text)) return true; // mode detection
  if (m.phase === 'busy renderer' && /\/api\/face\?/.test(url) && /503/.test(m.text)) return true;
  if (m.phase === 'empty pool' && /\/api\/random$/.test(url) && /503/.test(m.text)) return true;
  if (m.phase === 'empty pool' && /\/faces\.json$/.test(url) && /404/.test(m.text)) return true;
  if (m.phase === 'bad parameters' && /\/api\/face\?/.test(url) && /400/.test(m.text)) return true;
  if (m.phase === 'network failure' && /\/(api\/random|faces\/[^/]+\.webp)$/.test(url)) return true;
  return false;
}
function watch(page) {
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') {
      messages.push({ kind: 'console', phase, type: msg.type(), text: msg.text(), url: msg.location().url });
    }
  });
  page.on('pageerror', (err) => messages.push({ kind: 'pageerror', phase, type: 'error', text: String(err) }));
  page.on('crash', () => messages.push({ kind: 'crash', phase, type: 'error', text: 'the page crashed' }));
  return page;
}

fs.mkdirSync(artifacts, { recursive: true });
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dne-browser-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: DESKTOP,
  });
} catch (e) {
  console.log(`FAIL launch ${executablePath}: ${e.message.split('\n')[0]}`);
  if (mock) await mock.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
  process.exit(1);
}
context.setDefaultTimeout(15000);
const page = watch(context.pages()[0] || await context.newPage());

try {
  await check('html sanity', async () => {
    const res = await fetch(base);
    assert(res.status === 200, `GET ${base}: HTTP ${res.status}`);
    const problems = checkHtml(await res.text());
    assert(problems.length === 0, problems.join('; '));
    return 'doctype, lang, charset, viewport, title, balanced tags, alt, relative URLs';
  });

  await check('page loads', async () => {
    const res = await page.goto(at('?interval=2'));
    assert(res && res.status() === 200, `HTTP ${res && res.status()}`);
    const doc = await page.evaluate(() => ({
      lang: document.documentElement.lang,
      title: document.title,
      viewport: !!document.querySelector('meta[name=viewport]'),
      h1: (document.querySelector('h1') || {}).textContent,
    }));
    assert(doc.lang, 'no lang attribute');
    assert(doc.viewport, 'no meta viewport');
    assert(doc.title.includes('This Waifu Does Not Exist'), `title is "${doc.title}"`);
    assert(doc.h1 === 'This Waifu Does Not Exist', `h1 is "${doc.h1}"`);
    return `HTTP 200, "${doc.title}"`;
  });

  let s0;
  await check('face decoded', async () => {
    s0 = await waitForFace(page);
    checkConsistent(s0);
    return `${s0.naturalWidth} px, seed ${s0.seed}, psi ${s0.psi}`;
  });

  await check('new face with ?interval=2', async () => {
    const s = await state(page);
    const t0 = Date.now();
    const s1 = await waitForChange(page, s.src, 6000, 'the face did not change');
    checkConsistent(s1);
    return `seed ${s.seed} -> ${s1.seed} after ${((Date.now() - t0) / 1000).toFixed(1)} s`;
  });

  await check('download link', async () => {
    const s = await state(page);
    assert(s.download === s.src, `href ${s.download} is not the image ${s.src}`);
    assert(s.downloadName === `seed${s.seed}-psi${s.psi}.webp`, `download="${s.downloadName}"`);
    return s.downloadName;
  });

  await check('pause button holds the face', async () => {
    await page.click('#pause');
    const s = await state(page);
    assert(s.pause === 'Resume', `the button says "${s.pause}" when paused`);
    await sleep(5000);
    const s1 = await state(page);
    assert(s1.src === s.src, `the face changed while paused (${s.src} -> ${s1.src})`);
    return `seed ${s.seed} for 5 s`;
  });

  await check('right arrow shows another', async () => {
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    const s = await state(page);
    await page.keyboard.press('ArrowRight');
    const s1 = await waitForChange(page, s.src, 5000, 'ArrowRight did not change the face');
    checkConsistent(s1);
    assert(s1.pause === 'Resume', 'ArrowRight resumed the slideshow');
    return `seed ${s.seed} -> ${s1.seed}, still paused`;
  });

  await check('space bar resumes', async () => {
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    const s = await state(page);
    await page.keyboard.press(' ');
    const label = (await state(page)).pause;
    assert(label === 'Pause', `the button says "${label}" after Space`);
    const s1 = await waitForChange(page, s.src, 6000, 'no new face after resuming with Space');
    return `seed ${s.seed} -> ${s1.seed}`;
  });

  await check('another button', async () => {
    await page.click('#pause'); // pause again so only the button can change the face
    await sleep(FADE_MS);
    const s = await state(page);
    await page.click('#another');
    const s1 = await waitForChange(page, s.src, 5000, '"Another" did not change the face');
    checkConsistent(s1);
    return `seed ${s.seed} -> ${s1.seed}`;
  });

  if (mode === 'live') {
    await check('permalink ?seed=123&psi=0.7', async () => {
      const r = await getJSON('api/face?seed=123&psi=0.7');
      assert(r.status === 200 && r.body && r.body.id, `api/face: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      await page.goto(at('?seed=123&psi=0.7'));
      const s = await waitFor(async () => {
        const x = await state(page);
        return x.decoded && x.src.includes(r.body.id) ? x : null;
      }, 15000, `the img src never contained ${r.body.id}`);
      assert(s.seed === '123' && s.psi === '0.70', `the page says seed ${s.seed}, psi ${s.psi}`);
      checkConsistent(s);
      assert(s.pause === 'Resume', 'a permalink should stay on its face (paused)');
      return `${r.body.id}, seed 123, psi 0.70`;
    });

    await check('bad parameters', async () => {
      const r = await getJSON('api/face?seed=123&psi=9');
      if (r.status !== 400) return { skip: `api/face?psi=9 answers HTTP ${r.status}, not 400` };
      assert(r.body && typeof r.body.error === 'string', `the 400 has no JSON error: ${JSON.stringify(r.body)}`);
      await page.goto(at('?seed=123&psi=9'));
      await waitFor(async () => (await state(page)).note === r.body.error, 10000,
        `the page does not show the error "${r.body.error}"`);
      return `shows "${r.body.error}"`;
    });

    await check('busy renderer', async () => {
      if (!mock) return { skip: 'needs the mock server (--mock live) to fill the render queue' };
      mock.setBusy(2);
      await page.goto(at('?seed=77&psi=0.5'));
      await waitFor(async () => /busy, retrying/.test((await state(page)).note), 5000,
        'no "busy, retrying" note after a 503');
      const s = await waitFor(async () => {
        const x = await state(page);
        return x.decoded && x.seed === '77' ? x : null;
      }, 10000, 'seed 77 never showed after the renderer stopped being busy');
      assert(s.note === '', `the note "${s.note}" stayed`);
      return `note shown, then seed ${s.seed} after ${mock.stats.busy} retries`;
    });

    await check('empty pool', async () => {
      if (!mock) return { skip: 'needs the mock server (--mock live) to empty the pool' };
      mock.setEmpty(true);
      try {
        await page.goto(base);
        const note = await waitFor(async () => (await state(page)).note, 5000, 'no note while api/random answers 503');
        await sleep(500);
        assert(!(await state(page)).src, 'a face is shown although there is none');
        mock.setEmpty(false);
        const s = await waitForFace(page, 6000);
        assert(s.note === '', `the note "${s.note}" stayed`);
        return `"${note}", then seed ${s.seed}`;
      } finally {
        mock.setEmpty(false);
      }
    });
  } else {
    const list = await getJSON('faces.json');
    await check('permalink from faces.json', async () => {
      assert(list.status === 200 && Array.isArray(list.body) && list.body.length > 0, `faces.json: HTTP ${list.status}`);
      const f = list.body[list.body.length > 1 ? 1 : 0];
      const psi = String(Math.round(f.psi * 1000) / 1000);
      await page.goto(at(`?seed=${f.seed}&psi=${psi}`));
      const s = await waitFor(async () => {
        const x = await state(page);
        return x.decoded && x.src.includes(f.id) ? x : null;
      }, 10000, `the img src never contained ${f.id}`);
      assert(s.seed === String(f.seed) && s.psi === f.psi.toFixed(2), `the page says seed ${s.seed}, psi ${s.psi}`);
      checkConsistent(s);
      return `${f.id}`;
    });

    await check('permalink not in the static site', async () => {
      const seeds = new Set((list.body || []).map((f) => f.seed));
      let seed = 4294967295;
      while (seeds.has(seed)) seed--;
      await page.goto(at(`?seed=${seed}&psi=0.7`));
      await waitFor(async () => /not in this static site/i.test((await state(page)).note), 5000,
        'no "that face is not in this static site" note');
      return `seed ${seed}: "${(await state(page)).note}"`;
    });
  }

  await check('network failure', async () => {
    await page.goto(at('?interval=1'));
    const s = await waitForFace(page);
    const failing = (url) => (mode === 'live' ? /\/api\/random$/ : /\/faces\/[^/]+\.webp$/).test(new URL(url).pathname);
    await page.route(failing, (route) => route.abort());
    // The preloaded face may still come; after that, fetches fail.
    await waitFor(async () => (await state(page)).note !== '', 6000, 'no note while the server is unreachable');
    const s1 = await state(page);
    assert(s1.decoded, 'the face disappeared while the server was unreachable');
    await sleep(1500);
    const s2 = await state(page);
    assert(s2.decoded && s2.src === s1.src, 'the face changed or disappeared while the server was unreachable');
    await page.unroute(failing);
    const s3 = await waitForChange(page, s2.src, 6000, 'no new face after the server came back');
    await waitFor(async () => (await state(page)).note === '', 3000, 'the note stayed after recovery');
    return `kept seed ${s2.seed} with note "${s1.note}", then seed ${s3.seed} (first was ${s.seed})`;
  });

  await check('phone layout 390x844', async () => {
    await page.setViewportSize(PHONE);
    await page.goto(base);
    await waitForFace(page);
    await sleep(FADE_MS + 200);
    const box = await page.evaluate(() => {
      const r = document.querySelector('#frame img.is-current').getBoundingClientRect();
      const b = document.getElementById('another').getBoundingClientRect();
      return {
        left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width,
        scrollWidth: document.documentElement.scrollWidth, buttonBottom: b.bottom,
      };
    });
    assert(box.left >= 0 && box.right <= PHONE.width, `the image spans x ${box.left}..${box.right}`);
    assert(box.width >= 0.8 * PHONE.width, `the image is only ${box.width} px wide`);
    assert(box.scrollWidth <= PHONE.width, `the page scrolls sideways (${box.scrollWidth} px)`);
    assert(box.buttonBottom <= PHONE.height, `the buttons are below the fold (${box.buttonBottom} px)`);
    await page.screenshot({ path: shot('phone') });
    return `image ${Math.round(box.width)} px wide, screenshot ${shot('phone')}`;
  });

  await check('desktop layout 1280x800', async () => {
    await page.setViewportSize(DESKTOP);
    await page.goto(base);
    await waitForFace(page);
    await sleep(FADE_MS + 200);
    const box = await page.evaluate(() => {
      const r = document.querySelector('#frame img.is-current').getBoundingClientRect();
      const b = document.getElementById('another').getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, width: r.width, height: r.height, buttonBottom: b.bottom };
    });
    assert(box.bottom <= DESKTOP.height && box.buttonBottom <= DESKTOP.height,
      `the page does not fit the window (image bottom ${box.bottom}, buttons ${box.buttonBottom})`);
    assert(box.width >= 400 && Math.abs(box.width - box.height) < 1, `the image is ${box.width}x${box.height}`);
    await page.screenshot({ path: shot('desktop') });
    return `image ${Math.round(box.width)} px, screenshot ${shot('desktop')}`;
  });

  await check('without JavaScript', async () => {
    const p = watch(await context.newPage());
    try {
      const cdp = await context.newCDPSession(p);
      await cdp.send('Emulation.setScriptExecutionDisabled', { value: true });
      const res = await p.goto(base);
      assert(res && res.status() === 200, `HTTP ${res && res.status()}`);
      const img = await waitFor(async () => {
        const x = await p.evaluate(() => {
          const i = document.querySelector('#frame img');
          return i && { ok: i.complete && i.naturalWidth > 0, alt: i.alt, src: i.getAttribute('src'), appJs: !!document.querySelector('#frame img.is-current[decoding]') };
        });
        return x && x.ok ? x : null;
      }, 10000, 'the <noscript> image did not load');
      assert(img.src === 'random.webp' && img.alt, `noscript img src="${img.src}" alt="${img.alt}"`);
      assert(!img.appJs, 'scripts ran although JavaScript was disabled');
      return `random.webp loaded, alt "${img.alt}"`;
    } finally {
      await p.close();
    }
  });

  phase = 'end';
  await check('no console errors or warnings', async () => {
    const bad = messages.filter((m) => !allowed(m));
    assert(bad.length === 0, bad.map((m) => `[${m.phase}] ${m.type}: ${m.text}${m.url ? ` (${m.url})` : ''}`).join(' | '));
    const ok = messages.length;
    return ok ? `${ok} expected failed request(s) from the checks that provoke them` : 'none';
  });
} catch (e) {
  console.log(`FAIL ${phase}: ${e.message.split('\n')[0]}`);
  results.push({ name: phase, ok: false });
} finally {
  await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
  if (mock) await mock.close();
}

if (expectedMode && expectedMode !== mode) {
  console.log(`FAIL mode: expected ${expectedMode} mode, the server is in ${mode} mode`);
  results.push({ name: 'mode', ok: false });
}
const failed = results.filter((r) => !r.ok);
console.log(failed.length === 0
  ? `page.test: all ${results.length} checks passed (${mode} mode)`
  : `page.test: ${failed.length} of ${results.length} checks FAILED (${mode} mode): ${failed.map((r) => r.name).join(', ')}`);
process.exit(failed.length === 0 ? 0 : 1);
