// Builds the web console (web/) with esbuild into a few content-hashed files, in memory:
//   { files: { "/assets/main-ABC.js": { type, body (base64) }, ..., "/index.html": ... } }
// scripts/build.mjs embeds the result into dist/berth-server.mjs; a server running from sources
// (development, tests) calls this at startup instead (src/web/assets.ts).
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TYPES = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8' };

export async function buildWebAssets() {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['web/main.ts'],
    bundle: true,
    splitting: true,          // the terminal (xterm.js) is a chunk of its own, loaded only on the terminal page
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    outdir: 'web-out',
    entryNames: '[name]-[hash]',
    chunkNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    write: false,
    metafile: true,
    logLevel: 'warning',
  });
  const files = {};
  let mainJs = '';
  let mainCss = '';
  for (const out of result.outputFiles) {
    const name = path.basename(out.path);
    const ext = path.extname(name);
    if (!TYPES[ext]) continue;
    files[`/assets/${name}`] = { type: TYPES[ext], body: Buffer.from(out.contents).toString('base64') };
    if (/^main-.*\.js$/.test(name)) mainJs = name;
    if (/^main-.*\.css$/.test(name)) mainCss = name;
  }
  const html = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Berth</title>',
    `<link rel="stylesheet" href="/assets/${mainCss}">`,
    `<script type="module" src="/assets/${mainJs}"></script>`,
    '</head><body><div id="app"><p class="boot">Loading…</p></div></body></html>',
  ].join('\n');
  files['/index.html'] = { type: TYPES['.html'], body: Buffer.from(html).toString('base64') };
  return { files };
}
