// The streamed uploads (a Berth backup to restore, an add-on's dump): the handler reads the request body as a
// stream, and whatever it answers, the rest of the upload is read and dropped before the answer goes out. A
// refusal answered while the client still sends would have its connection cut under it (the HTTP server drains an
// unread body for 500 ms at most), and the client would see EPIPE, not the reason.
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { Context } from 'hono';
import type { BerthError } from '../shared/errors.ts';

/** `limit`: the bytes read past the handler's own reading before the upload is cut instead (what it would accept). */
export async function withUpload<T>(c: Context, limit: number, missing: () => BerthError, handle: (body: Readable) => Promise<T>): Promise<T> {
  const raw = c.req.raw.body;
  if (!raw) throw missing();
  const body = Readable.fromWeb(raw as NodeReadableStream<Uint8Array>);
  try {
    return await handle(body);
  } finally {
    await discardRest(body, limit);
  }
}

/** Reads and drops what is left of `input`, cutting it only past `limit` bytes; settles once it has ended. */
function discardRest(input: Readable, limit: number): Promise<void> {
  return new Promise((resolve) => {
    if (input.destroyed || input.readableEnded) return resolve();
    let left = limit;
    input.once('end', () => resolve());
    input.once('close', () => resolve());
    input.on('error', () => resolve()); // the client went away: nothing left to read
    input.on('data', (chunk: Buffer) => {
      left -= chunk.length;
      if (left < 0) input.destroy();
    });
    input.resume();
  });
}
