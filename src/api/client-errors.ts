// Requests Node's HTTP parser rejects before any route sees them (a 70 kB URL, broken headers) get the
// same JSON {error, message} as every other refusal, instead of Node's bare status line.
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServerType } from '@hono/node-server';

const REFUSALS: Record<string, { status: number; reason: string; error: string; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'Request Header Fields Too Large', error: 'headers_too_large', message: 'The request line or headers are too large.' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, reason: 'Payload Too Large', error: 'payload_too_large', message: 'The chunk extensions are too large.' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'Request Timeout', error: 'request_timeout', message: 'The request took too long to arrive.' },
};
const MALFORMED = { status: 400, reason: 'Bad Request', error: 'bad_request', message: 'The request is not valid HTTP.' };

export function answerClientErrorsAsJson(server: ServerType): void {
  (server as Server).on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Nothing to answer on a connection that is gone, or once a response has started.
    if (err.code === 'ECONNRESET' || !socket.writable || (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    const refusal = REFUSALS[err.code ?? ''] ?? MALFORMED;
    const body = JSON.stringify({ error: refusal.error, message: refusal.message });
    socket.end(`HTTP/1.1 ${refusal.status} ${refusal.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}
