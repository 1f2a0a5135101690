// The Caddy JSON that splits an app's requests between its stable release and a canary (pure).
// Caddy 2.6 has no weighted selection policy, so the split is a subroute whose branches are tried in order:
//   1. the gray matches (a header, a cookie): testers reach the canary, exactly those requests;
//   2. sticky clients: the berth_canary cookie names the side they were drawn for (and the canary's version);
//   3. a draw: the first two hex digits of the request's random UUID ({http.request.uuid}, a v4 UUID) fall
//      below weight × 256 / 100, so the share is within 0.2 pp of the weight;
//   4. everything else: the stable release.
// Every branch tags its response with X-Berth-Track (stable | canary), which Caddy's access log records, so the
// per-release request metrics (src/canary/track-windows.ts) can tell the two apart.
import type { CanaryRoute, CanaryRouting, Upstream } from '../types.ts';
import type { CaddyHandler, CaddyRoute } from './config.ts';

export const TRACK_HEADER = 'X-Berth-Track';
export const STICKY_COOKIE = 'berth_canary';
export type Track = 'stable' | 'canary';

const HEX = '0123456789abcdef';
/** The draw's resolution: two hex digits. */
const SLOTS = 256;
/** A day: long enough for a test session, short enough that a forgotten canary's cookie goes away. */
const STICKY_MAX_AGE_SEC = 86_400;

/** How many of the 256 draw slots go to the canary for a weight in percent. */
export function slotsFor(weight: number): number {
  return Math.round((Math.min(100, Math.max(0, weight)) * SLOTS) / 100);
}

/** A regex matching a lowercase hex string whose first two digits, as a number, are below `slots`; null for 0 slots. */
export function drawPattern(slots: number): string | null {
  if (slots <= 0) return null;
  if (slots >= SLOTS) return '^';
  const high = Math.floor(slots / 16);
  const low = slots % 16;
  const parts = [
    ...(high > 0 ? [`[${HEX.slice(0, high)}]`] : []),
    ...(low > 0 ? [`${HEX[high]}[${HEX.slice(0, low)}]`] : []),
  ];
  return `^(?:${parts.join('|')})`;
}

/** The number of slots drawPattern(slots) was made for; null when the pattern is not one of its. */
export function slotsOfPattern(pattern: string): number | null {
  if (pattern === '^') return SLOTS;
  const m = /^\^\(\?:(?:\[(0[0-9a-f]*)\])?\|?(?:([0-9a-f])\[(0[0-9a-f]*)\])?\)$/.exec(pattern);
  if (!m || (!m[1] && !m[2])) return null;
  return (m[1]?.length ?? 0) * 16 + (m[3]?.length ?? 0);
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A Cookie header holding exactly `name=value` among its pairs. */
function cookieMatcher(name: string, value: string): Record<string, unknown> {
  return { header_regexp: { Cookie: { pattern: `(?:^|;\\s*)${escapeRegex(name)}=${escapeRegex(value)}(?:;|$)` } } };
}

function cookieOfMatcher(match: Record<string, unknown> | undefined): { name: string; value: string } | null {
  const pattern = (match?.header_regexp as { Cookie?: { pattern?: string } } | undefined)?.Cookie?.pattern;
  const m = pattern ? /^\(\?:\^\|;\\s\*\)(.+)=(.+)\(\?:;\|\$\)$/.exec(pattern) : null;
  const unescape = (text: string) => text.replace(/\\(.)/g, '$1');
  return m ? { name: unescape(m[1]), value: unescape(m[2]) } : null;
}

const stickyValue = (track: Track, version: number): string => `${track === 'canary' ? 'c' : 's'}${version}`;

/**
 * Tags the response with its track and, when drawn, sets the sticky cookie. Set before the proxy runs, not deferred
 * (a deferred header wraps every response writer, a measurable cost per request): a value the app sends itself is
 * appended after Berth's, and the access log reader takes the first.
 */
function tag(track: Track, stickyVersion: number | null): CaddyHandler {
  const cookie = stickyVersion === null ? {}
    : { add: { 'Set-Cookie': [`${STICKY_COOKIE}=${stickyValue(track, stickyVersion)}; Path=/; Max-Age=${STICKY_MAX_AGE_SEC}; HttpOnly; SameSite=Lax`] } };
  return { handler: 'headers', response: { set: { [TRACK_HEADER]: [track] }, ...cookie } };
}

/**
 * The split as one subroute handler; `stable` and `canary` are the two reverse_proxy handlers. With weight 0 and
 * no gray match the canary gets nothing, which is still a valid split (a canary waiting for its first step).
 */
export function buildCanarySplit(routing: CanaryRouting, stable: CaddyHandler, canary: CaddyHandler): CaddyHandler {
  const toCanary = (match: Record<string, unknown>, sticky: number | null = null): CaddyRoute =>
    ({ match: [match] as CaddyRoute['match'], handle: [tag('canary', sticky), canary] });
  const routes: CaddyRoute[] = [];
  if (routing.header) routes.push(toCanary({ header: { [routing.header.name]: [routing.header.value] } }));
  if (routing.cookie) routes.push(toCanary(cookieMatcher(routing.cookie.name, routing.cookie.value)));
  const sticky = routing.sticky && routing.weight > 0 ? routing.version : null;
  if (sticky !== null) {
    routes.push(toCanary(cookieMatcher(STICKY_COOKIE, stickyValue('canary', sticky))));
    routes.push({ match: [cookieMatcher(STICKY_COOKIE, stickyValue('stable', sticky))] as CaddyRoute['match'], handle: [tag('stable', null), stable] });
  }
  const draw = drawPattern(slotsFor(routing.weight));
  if (draw !== null) routes.push(toCanary({ vars_regexp: { '{http.request.uuid}': { pattern: draw } } }, sticky));
  routes.push({ handle: [tag('stable', sticky), stable] });
  return { handler: 'subroute', routes };
}

/** True for a handler buildCanarySplit made. */
export function isCanarySplit(handler: CaddyHandler | undefined): boolean {
  const routes = handler?.handler === 'subroute' ? handler.routes as CaddyRoute[] | undefined : undefined;
  return !!routes?.length && trackOf(routes.at(-1)!) === 'stable';
}

function trackOf(route: CaddyRoute): Track | null {
  const set = (route.handle?.[0]?.response as { set?: Record<string, string[]> } | undefined)?.set;
  const track = set?.[TRACK_HEADER]?.[0];
  return track === 'stable' || track === 'canary' ? track : null;
}

/**
 * Reads a split back: the stable proxy handler, and the canary's routing with the canary proxy's handler;
 * `upstreamsOf` reads a proxy's upstream list. Null for handlers that are not a split.
 */
export function parseCanarySplit(handler: CaddyHandler, upstreamsOf: (proxy: CaddyHandler | undefined) => Upstream[]):
  { stable: CaddyHandler; canary: CanaryRoute } | null {
  if (!isCanarySplit(handler)) return null;
  const routes = handler.routes as CaddyRoute[];
  const stableRoute = routes.at(-1)!;
  const canaryRoutes = routes.filter((r) => trackOf(r) === 'canary');
  const canaryProxy = canaryRoutes[0]?.handle?.[1];
  const routing: CanaryRoute = { version: 0, weight: 0, header: null, cookie: null, sticky: false, upstreams: upstreamsOf(canaryProxy) };
  for (const route of canaryRoutes) {
    const match = route.match?.[0] as Record<string, unknown> | undefined;
    const draw = (match?.vars_regexp as Record<string, { pattern?: string }> | undefined)?.['{http.request.uuid}']?.pattern;
    const header = match?.header as Record<string, string[]> | undefined;
    const cookie = cookieOfMatcher(match);
    if (draw !== undefined) routing.weight = Math.round(((slotsOfPattern(draw) ?? 0) * 100) / SLOTS);
    else if (header) { const [name, values] = Object.entries(header)[0]!; routing.header = { name, value: values[0]! }; }
    else if (cookie?.name === STICKY_COOKIE && /^c\d+$/.test(cookie.value)) { routing.sticky = true; routing.version = Number(cookie.value.slice(1)); }
    else if (cookie) routing.cookie = cookie;
  }
  return { stable: stableRoute.handle![1]!, canary: routing };
}
