// Serves the web console: index.html at / and content-hashed files under /assets/, gzipped when the
// browser accepts it, under a strict Content-Security-Policy. In dist/berth-server.mjs the assets are
// embedded by scripts/build.mjs (BERTH_WEB_ASSETS); from sources they are built once at startup.
import { gzipSync } from 'node:zlib';
import { Hono, type Context } from 'hono';

declare const BERTH_WEB_ASSETS: Record<string, { type: string; body: string }> | undefined;

interface Asset { type: string; body: Buffer; gzip: Buffer }

// Scripts, styles, fetches and the terminal's websocket: this origin only. xterm.js writes <style>
// elements for its themes, hence 'unsafe-inline' for styles (never for scripts).
export const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "connect-src 'self'",
  "img-src 'self' data:", "font-src 'self'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

async function loadSources(): Promise<Record<string, { type: string; body: string }>> {
  if (typeof BERTH_WEB_ASSETS !== 'undefined') return BERTH_WEB_ASSETS;
  // Running from sources: esbuild (a dev dependency) is there. The path is computed so bundling never follows it.
  const builder = new URL(['..', '..', 'scripts', 'build-web.mjs'].join('/'), import.meta.url).href;
  const { buildWebAssets } = await import(builder) as { buildWebAssets(): Promise<{ files: Record<string, { type: string; body: string }> }> };
  return (await buildWebAssets()).files;
}

export class WebAssets {
  private loading: Promise<Map<string, Asset>> | null = null;

  load(): Promise<Map<string, Asset>> {
    this.loading ??= loadSources().then((files) => new Map(Object.entries(files).map(([p, f]) => {
      const body = Buffer.from(f.body, 'base64');
      return [p, { type: f.type, body, gzip: gzipSync(body, { level: 9 }) }];
    })));
    return this.loading;
  }

  /** The JS each page loads, raw and gzipped: every page loads main-*.js; the terminal also its chunk. */
  async sizes(): Promise<{ file: string; bytes: number; gzipBytes: number }[]> {
    const assets = await this.load();
    return [...assets].filter(([p]) => p.endsWith('.js')).map(([p, a]) => ({ file: p, bytes: a.body.length, gzipBytes: a.gzip.length }));
  }

  routes(): Hono {
    const ui = new Hono();
    const send = async (c: Context, file: string, cache: string) => {
      const asset = (await this.load()).get(file);
      if (!asset) return c.json({ error: 'not_found', message: `No such file: ${c.req.path}` }, 404);
      const gzip = /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
      const headers: Record<string, string> = {
        'content-type': asset.type, 'cache-control': cache, 'content-security-policy': CSP,
        'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY', vary: 'accept-encoding',
      };
      if (gzip) headers['content-encoding'] = 'gzip';
      return c.body(new Uint8Array(gzip ? asset.gzip : asset.body), 200, headers);
    };
    ui.get('/', (c) => send(c, '/index.html', 'no-cache'));
    ui.get('/assets/:file', (c) => send(c, `/assets/${c.req.param('file')}`, 'public, max-age=31536000, immutable'));
    return ui;
  }
}
