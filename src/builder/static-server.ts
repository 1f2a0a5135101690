// The small file server Berth puts into static-site images (as .berth/static-server.mjs). It is a
// string, not a file, so that the bundled server (esbuild) carries it. Plain Node, no dependencies.
// Kept free of backticks and dollar-brace so it can live in String.raw.
export const STATIC_SERVER_FILE = 'static-server.mjs';

export const STATIC_SERVER_SOURCE = String.raw`// Berth's static file server: serves BERTH_STATIC_ROOT (default /app) on $PORT.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const root = fs.realpathSync(process.env.BERTH_STATIC_ROOT || '/app');
const port = Number(process.env.PORT || 5000);

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.map': 'application/json', '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8', '.md': 'text/markdown; charset=utf-8', '.xml': 'application/xml', '.csv': 'text/csv; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif',
  '.webp': 'image/webp', '.avif': 'image/avif', '.ico': 'image/x-icon',
  '.woff': 'font/woff', '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.otf': 'font/otf',
  '.wasm': 'application/wasm', '.pdf': 'application/pdf', '.mp4': 'video/mp4', '.webm': 'video/webm', '.mp3': 'audio/mpeg',
};

const NOT_FOUND_PAGE = '<!doctype html><meta charset="utf-8"><title>404 Not Found</title><h1>404 Not Found</h1><p>There is no page at this address.</p>\n';

// Maps a request target to a file path under root: null for a malformed or escaping target,
// 'hidden' for dotfiles (.env, .berth/, ...), which are never served.
function targetPath(url) {
  const pathname = url.split('?')[0];
  if (!pathname.startsWith('/')) return null;
  let decoded;
  try { decoded = decodeURIComponent(pathname); } catch { return null; }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) return null;
  if (segments.some((segment) => segment.startsWith('.') && segment !== '.well-known')) return 'hidden';
  return path.join(root, ...segments);
}

// Symlinks in the repository must not lead outside it either.
function insideRoot(file) {
  try {
    const real = fs.realpathSync(file);
    return real === root || real.startsWith(root + path.sep) ? real : null;
  } catch { return null; }
}

function send(req, res, status, headers, body) {
  res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function notFound(req, res) {
  const custom = insideRoot(path.join(root, '404.html'));
  const body = custom ? fs.readFileSync(custom) : NOT_FOUND_PAGE;
  send(req, res, 404, { 'content-type': 'text/html; charset=utf-8' }, body);
}

function serveFile(req, res, file, stat) {
  const etag = 'W/"' + stat.size.toString(16) + '-' + Math.floor(stat.mtimeMs).toString(16) + '"';
  const headers = {
    'content-type': TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream',
    'last-modified': stat.mtime.toUTCString(),
    'etag': etag,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  };
  if (req.headers['if-none-match'] === etag) { res.writeHead(304, headers); res.end(); return; }
  res.writeHead(200, { ...headers, 'content-length': stat.size });
  if (req.method === 'HEAD') { res.end(); return; }
  fs.createReadStream(file).on('error', () => res.destroy()).pipe(res);
}

function handle(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(req, res, 405, { 'allow': 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }, 'method not allowed\n');
    return;
  }
  const target = targetPath(req.url || '/');
  if (target === null) { send(req, res, 400, { 'content-type': 'text/plain; charset=utf-8' }, 'bad request\n'); return; }
  if (target === 'hidden') { notFound(req, res); return; }
  let file = insideRoot(target);
  if (!file) { notFound(req, res); return; }
  let stat = fs.statSync(file);
  if (stat.isDirectory()) {
    const pathname = (req.url || '/').split('?')[0];
    if (!pathname.endsWith('/')) {
      const query = (req.url || '').slice(pathname.length);
      send(req, res, 301, { 'location': pathname + '/' + query, 'content-type': 'text/plain; charset=utf-8' }, 'moved\n');
      return;
    }
    file = insideRoot(path.join(file, 'index.html'));
    if (!file) { notFound(req, res); return; }
    stat = fs.statSync(file);
  }
  if (!stat.isFile()) { notFound(req, res); return; }
  serveFile(req, res, file, stat);
}

const server = http.createServer((req, res) => {
  try { handle(req, res); } catch (err) {
    console.error('static-server: ' + (err && err.message));
    if (!res.headersSent) send(req, res, 500, { 'content-type': 'text/plain; charset=utf-8' }, 'internal error\n');
    else res.destroy();
  }
});
server.listen(port, () => console.log('static-server: serving ' + root + ' on port ' + port));
// Finish in-flight requests on SIGTERM, but never outlive the stop timeout because of an idle client.
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
});
`;
