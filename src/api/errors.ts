// Every API failure leaves as JSON {error, message} with the right status, whatever threw it; an
// unexpected one as {error: "internal", message, requestId}, its detail only in the server log.
import crypto from 'node:crypto';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { BerthError, badRequest } from '../shared/errors.ts';

export function errorResponse(err: Error, c: Context, log: (line: string) => void): Response {
  if (err instanceof BerthError) {
    return c.json({ error: err.code, message: err.message, ...(err.details ?? {}) }, err.status as ContentfulStatusCode);
  }
  if (err instanceof HTTPException) {
    const code = err.status === 413 ? 'payload_too_large' : err.status === 401 ? 'unauthorized' : 'bad_request';
    return c.json({ error: code, message: err.message || 'Bad request.' }, err.status);
  }
  // The detail (paths, SQL, engine messages) stays in the server log; the caller gets an id to quote.
  const requestId = crypto.randomBytes(8).toString('hex');
  log(`internal error ${requestId} on ${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`);
  return c.json({ error: 'internal', message: `Internal error: the server log has the details under request id ${requestId}.`, requestId }, 500);
}

/** Parses the JSON body; malformed JSON or a non-object is a 400, never a crash. */
export async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch (err) {
    if (err instanceof HTTPException) throw err; // the body limit speaks for itself
    throw badRequest('invalid_json', 'The request body is not valid JSON.');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('invalid_json', 'The request body must be a JSON object.');
  }
  return body as Record<string, unknown>;
}
