#!/usr/bin/env node
// A quick sanity pass over web/ (no browser, no dependencies):
//   node tests/browser/html-check.mjs [web dir]
// index.html: doctype, <html lang>, charset, viewport, title, the h1,
// balanced tags, alt on every img, unique ids, and only relative URLs (the
// site must work under any path prefix); app.js and style.css: no absolute
// or external URLs either. Exit status 0 when clean, 1 otherwise.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);
const RAW_TEXT = new Set(['script', 'style']);
// End tags the HTML parser lets one leave out; index.html closes them anyway,
// so they are checked like any other.

// Problems found in an HTML document (an empty list when it is clean).
export function checkHtml(html) {
  const problems = [];
  if (!/^\s*<!doctype html>/i.test(html)) problems.push('does not start with <!doctype html>');

  const stack = [];
  const ids = new Map();
  const tags = [];
  const re = /<!--[\s\S]*?-->|<!doctype[^>]*>|<\/([a-zA-Z][a-zA-Z0-9-]*)\s*>|<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*(\/?)>/gi;
  let m;
  let last = 0;
  while ((m = re.exec(html)) !== null) {
    const between = html.slice(last, m.index);
    if (/<[a-zA-Z/!]/.test(between)) problems.push(`malformed tag near: ${between.trim().slice(0, 60)}`);
    last = re.lastIndex;
    const line = html.slice(0, m.index).split('\n').length;
    if (m[1]) {
      const name = m[1].toLowerCase();
      if (VOID.has(name)) { problems.push(`line ${line}: end tag for void element </${name}>`); continue; }
      const open = stack.pop();
      if (!open) problems.push(`line ${line}: </${name}> without a start tag`);
      else if (open.name !== name) problems.push(`line ${line}: </${name}> closes <${open.name}> of line ${open.line}`);
    } else if (m[2]) {
      const name = m[2].toLowerCase();
      const attrs = {};
      const are = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
      let a;
      while ((a = are.exec(m[3])) !== null) {
        const key = a[1].toLowerCase();
        if (key in attrs) problems.push(`line ${line}: <${name}> repeats the attribute ${key}`);
        attrs[key] = a[2] ?? a[3] ?? a[4] ?? '';
      }
      tags.push({ name, attrs, line });
      if (attrs.id !== undefined) {
        if (ids.has(attrs.id)) problems.push(`line ${line}: id "${attrs.id}" also on line ${ids.get(attrs.id)}`);
        ids.set(attrs.id, line);
      }
      if (RAW_TEXT.has(name)) {
        const end = html.toLowerCase().indexOf(`</${name}`, re.lastIndex);
        if (end < 0) { problems.push(`line ${line}: <${name}> is never closed`); break; }
        re.lastIndex = end;
        last = end;
      }
      if (!VOID.has(name) && !m[4]) stack.push({ name, line });
    }
  }
  if (/<[a-zA-Z/!]/.test(html.slice(last))) problems.push('malformed tag at the end');
  for (const open of stack) problems.push(`line ${open.line}: <${open.name}> is never closed`);

  const find = (name) => tags.filter((t) => t.name === name);
  const htmlTag = find('html')[0];
  if (!htmlTag || !htmlTag.attrs.lang) problems.push('<html> has no lang attribute');
  if (!find('meta').some((t) => (t.attrs.charset || '').toLowerCase() === 'utf-8')) problems.push('no <meta charset="utf-8">');
  const viewport = find('meta').find((t) => t.attrs.name === 'viewport');
  if (!viewport || !/width=device-width/.test(viewport.attrs.content || '')) problems.push('no <meta name="viewport" content="width=device-width, ...">');
  const title = /<title>([^<]*)<\/title>/i.exec(html);
  if (!title || !title[1].trim()) problems.push('no <title>');
  if (!/<h1[^>]*>\s*This Waifu Does Not Exist\s*<\/h1>/i.test(html)) problems.push('no <h1>This Waifu Does Not Exist</h1>');
  for (const img of find('img')) {
    if (!img.attrs.alt) problems.push(`line ${img.line}: <img> without alt text`);
  }
  for (const t of tags) {
    for (const key of ['src', 'href', 'action', 'poster']) {
      const url = t.attrs[key];
      if (url === undefined || url === '' || url.startsWith('data:')) continue;
      if (/^([a-z][a-z0-9+.-]*:|\/)/i.test(url)) problems.push(`line ${t.line}: <${t.name} ${key}="${url}"> is not a relative URL`);
    }
  }
  return problems;
}

// Absolute or external URLs in JavaScript or CSS source.
export function checkSource(name, text) {
  const problems = [];
  const patterns = [
    [/https?:\/\//, 'an external URL'],
    [/(["'`(])\/(api|faces|random\.webp|faces\.json|style\.css|app\.js)/, 'a root-relative URL'],
    [/\burl\(\s*["']?\//, 'a root-relative url()'],
    [/@import/, 'an @import'],
  ];
  text.split('\n').forEach((line, i) => {
    for (const [re, what] of patterns) {
      if (re.test(line)) problems.push(`${name}:${i + 1}: ${what}: ${line.trim().slice(0, 80)}`);
    }
  });
  return problems;
}

export function checkWebDir(dir) {
  const read = (f) => fs.readFileSync(path.join(dir, f), 'utf8');
  return [
    ...checkHtml(read('index.html')).map((p) => `index.html: ${p}`),
    ...checkSource('app.js', read('app.js')),
    ...checkSource('style.css', read('style.css')),
  ];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
  const problems = checkWebDir(dir);
  if (problems.length > 0) {
    for (const p of problems) console.log(`FAIL html-check: ${p}`);
    process.exit(1);
  }
  console.log(`ok   html-check: ${dir}/index.html, app.js, style.css`);
}
