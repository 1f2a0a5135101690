// /tokens: a user's API tokens. Create one (scope, expiry, description; the secret is in this answer
// only), list them (never the secrets), revoke one. Admins, with an admin-scoped token, see and revoke
// everyone's. A token never creates a token that outlives it or has more rights than it.
import { Hono, type Context } from 'hono';
import type { ApiEnv } from '../auth.ts';
import { requireAdmin } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import type { TokenRow } from '../../state/auth-store.ts';
import { TOKEN_SCOPES, type ApiToken, type CreatedToken, type TokenScope } from '../../wire/types.ts';
import { requireDurationMs } from '../../shared/duration.ts';
import { badRequest, notFound } from '../../shared/errors.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'auth' | 'sessions'>;

const MAX_DESCRIPTION = 200;
const MAX_LIFETIME_MS = 5 * 365 * 86_400_000;

export function tokensRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  const view = (c: Context<ApiEnv>, row: TokenRow): ApiToken => {
    const credential = c.get('credential');
    return {
      id: row.id, user: row.user, scope: row.scope, description: row.description, createdAt: row.createdAt,
      expiresAt: row.expiresAt, lastUsedAt: row.lastUsedAt, current: credential.kind === 'token' && credential.tokenId === row.id,
    };
  };

  api.get('/', (c) => {
    const all = c.req.query('all') === '1' || c.req.query('all') === 'true';
    if (all) requireAdmin(c);
    return c.json(s.auth.tokens(all ? undefined : c.get('user').id).map((row) => view(c, row)));
  });

  api.post('/', async (c) => {
    const body = await jsonBody(c);
    const scope = (body.scope ?? 'full') as TokenScope;
    if (!TOKEN_SCOPES.includes(scope)) throw badRequest('invalid_scope', `scope must be one of ${TOKEN_SCOPES.join(', ')}.`);
    if (scope === 'admin') requireAdmin(c);
    const description = body.description ?? '';
    if (typeof description !== 'string' || description.length > MAX_DESCRIPTION || /[\u0000-\u001f\u007f]/.test(description)) {
      throw badRequest('bad_request', `description must be text of at most ${MAX_DESCRIPTION} characters, on one line.`);
    }
    let expiresAt: string | null = null;
    if (body.expires !== undefined && body.expires !== null) {
      if (typeof body.expires !== 'string') throw badRequest('bad_request', 'expires must be a duration like 30d or 12h.');
      const ms = requireDurationMs('expires', body.expires);
      if (ms > MAX_LIFETIME_MS) throw badRequest('bad_request', 'expires may be at most 5 years (1825d); leave it out for a token that never expires.');
      expiresAt = new Date(Date.now() + ms).toISOString();
    }
    checkOutlives(c, s, expiresAt);
    const created = s.auth.createToken(c.get('user').id, { scope, description, expiresAt });
    c.set('auditDetail', `token ${created.id} (${scope}${expiresAt ? `, expires ${expiresAt}` : ''})`);
    const answer: CreatedToken = { ...view(c, created), token: created.token };
    return c.json(answer, 201);
  });

  api.delete('/:id', (c) => {
    const id = Number(c.req.param('id'));
    if (!Number.isSafeInteger(id) || id < 1) throw badRequest('bad_request', 'A token id is a positive number (see berth tokens).');
    const row = s.auth.findToken(id);
    // Someone else's token answers like a missing one, unless an admin asks.
    if (!row || (row.userId !== c.get('user').id && !isAdminCall(c))) throw notFound(`Token ${id} not found.`);
    s.auth.revokeToken(id);
    c.set('auditDetail', `token ${id} of ${row.user} (${row.scope})`);
    return c.json({ revoked: id });
  });
  return api;
}

function isAdminCall(c: Context<ApiEnv>): boolean {
  try { requireAdmin(c); return true; } catch { return false; }
}

/** A credential cannot extend its own life: what it creates for its user expires no later than it. */
export function checkOutlives(c: Context<ApiEnv>, s: Pick<Services, 'auth' | 'sessions'>, expiresAt: string | null): void {
  const limit = callerExpiry(c, s);
  if (limit && (!expiresAt || expiresAt > limit)) {
    throw badRequest('bad_request', `The credential you are using expires at ${limit}; a token it creates cannot outlive it (give --expires a shorter time).`);
  }
}

/** When the token (or the session's token) this request came with expires, if it does. */
function callerExpiry(c: Context<ApiEnv>, s: Pick<Services, 'auth' | 'sessions'>): string | null {
  const credential = c.get('credential');
  if (credential.kind === 'token') {
    const check = s.auth.checkTokenId(credential.tokenId);
    return check.ok ? check.expiresAt : null;
  }
  return s.sessions.find(credential.id)?.tokenExpiresAt ?? null;
}
