// The Caddy JSON that splits an app's requests between its stable release and a canary (pure).
// Caddy 2.6 has no weighted selection policy (weighted_round_robin came in 2.8). When both releases' instances are a
// fixed list (the Docker scheduler routes a canary's stable side that way), the weighted part is one reverse_proxy
// whose upstream list repeats the stable and canary dials in the weight's ratio, spread evenly, under round_robin:
// the share is exact per turn of the list, and nothing is matched or drawn per request. A `map` handler names the
// track of the upstream the proxy chose ({berth.track}), which the proxy's own response header op writes into
// X-Berth-Track (and, with --sticky, the berth_canary cookie) once the upstream answered.
// Gray and sticky requests need matchers: then the split is a subroute tried in order:
//   1. the gray matches (a header, a cookie): testers reach the canary, exactly those requests;
//   2. sticky clients: the berth_canary cookie names the side they were drawn for (and the canary's version);
//   3. the weighted proxy above, for everything else.
// A stable side that is a DNS name (dynamic upstreams) cannot share one upstream list: that split draws instead, on
// the first two hex digits of the request's random UUID ({http.request.uuid}), within 0.2 pp of the weight, and
// every branch tags its response before proxying. Both forms read back (parseCanarySplit).
// The access log records X-Berth-Track, so the per-release request metrics (src/canary/track-windows.ts) can tell
// the two sides apart.
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
/** The weighted upstream list's length at most: the per-instance balance within a side gives way beyond it. */
const MAX_DIALS = 1000;
const UPSTREAM = '{http.reverse_proxy.upstream.hostport}';
const TRACK_VAR = '{berth.track}';
const STICKY_VAR = '{berth.sticky}';

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

const stickyCookie = (value: string): string => `${STICKY_COOKIE}=${value}; Path=/; Max-Age=${STICKY_MAX_AGE_SEC}; HttpOnly; SameSite=Lax`;

/**
 * Tags the response with its track and, when drawn, sets the sticky cookie (the draw form). Set before the proxy runs,
 * not deferred (a deferred header wraps every response writer, a measurable cost per request): a value the app sends
 * itself is appended after Berth's, and the access log reader takes the first.
 */
function tag(track: Track, stickyVersion: number | null): CaddyHandler {
  const cookie = stickyVersion === null ? {} : { add: { 'Set-Cookie': [stickyCookie(stickyValue(track, stickyVersion))] } };
  return { handler: 'headers', response: { set: { [TRACK_HEADER]: [track] }, ...cookie } };
}

/** A proxy that tags its upstream's answers with `track` (replacing a value the app sent). */
function tagged(proxy: CaddyHandler, track: Track): CaddyHandler {
  return { ...proxy, headers: { response: { set: { [TRACK_HEADER]: [track] } } } };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * The weighted proxy's upstream list: `weight` % of its entries dial the canary, spread evenly (so any run of
 * consecutive requests under round_robin gets its share), and each side's instances get equal turns (within
 * MAX_DIALS entries; beyond, they differ by one entry at most).
 */
export function weightedDials(stable: string[], canary: string[], weight: number): string[] {
  const w = Math.min(100, Math.max(0, Math.round(weight)));
  if (w === 0 || !canary.length) return [...stable];
  if (w === 100 || !stable.length) return [...canary];
  const g = gcd(w, 100);
  const [c, s] = [w / g, (100 - w) / g];
  const turns = (n: number, share: number) => n / gcd(share, n);
  const k = (a: number, b: number) => (a * b) / gcd(a, b);
  const balanced = k(turns(stable.length, s), turns(canary.length, c));
  const cycles = (c + s) * balanced <= MAX_DIALS ? balanced : Math.max(1, Math.floor(MAX_DIALS / (c + s)));
  const total = (c + s) * cycles;
  const canaryTotal = c * cycles;
  const dials: string[] = [];
  for (let i = 0, ci = 0, si = 0; i < total; i++) {
    const toCanary = Math.floor(((i + 1) * canaryTotal) / total) > Math.floor((i * canaryTotal) / total);
    dials.push(toCanary ? canary[ci++ % canary.length]! : stable[si++ % stable.length]!);
  }
  return dials;
}

/** The dials of a proxy with a fixed upstream list; null for anything else (a DNS name, a static response). */
function fixedDials(handler: CaddyHandler): string[] | null {
  if (handler.handler !== 'reverse_proxy' || handler.dynamic_upstreams) return null;
  const dials = (handler.upstreams as Array<{ dial?: unknown }> | undefined)?.map((u) => u.dial);
  return dials?.length && dials.every((d): d is string => typeof d === 'string') ? dials : null;
}

/** The map handler naming the chosen upstream's track (and, for sticky canaries, the cookie value for its side). */
function trackMap(canaryDials: string[], sticky: number | null): CaddyHandler {
  const unique = [...new Set(canaryDials)];
  return {
    handler: 'map', source: UPSTREAM,
    destinations: sticky === null ? [TRACK_VAR] : [TRACK_VAR, STICKY_VAR],
    mappings: unique.map((input) => ({ input, outputs: sticky === null ? ['canary'] : ['canary', stickyValue('canary', sticky)] })),
    defaults: sticky === null ? ['stable'] : ['stable', stickyValue('stable', sticky)],
  };
}

/** The gray and sticky branches, in the order they are tried; `stable`/`canary` are the tagged proxies. */
function matchedRoutes(routing: CanaryRouting, sticky: number | null, stable: CaddyHandler, canary: CaddyHandler): CaddyRoute[] {
  const to = (match: Record<string, unknown>, proxy: CaddyHandler): CaddyRoute => ({ match: [match] as CaddyRoute['match'], handle: [proxy] });
  const routes: CaddyRoute[] = [];
  if (routing.header) routes.push(to({ header: { [routing.header.name]: [routing.header.value] } }, canary));
  if (routing.cookie) routes.push(to(cookieMatcher(routing.cookie.name, routing.cookie.value), canary));
  if (sticky !== null) {
    routes.push(to(cookieMatcher(STICKY_COOKIE, stickyValue('canary', sticky)), canary));
    routes.push(to(cookieMatcher(STICKY_COOKIE, stickyValue('stable', sticky)), stable));
  }
  return routes;
}

/**
 * The split as the route's handlers; `stable` and `canary` are the two reverse_proxy handlers. With weight 0 and no
 * gray match the canary gets nothing, which is still a valid split (a canary waiting for its first step).
 */
export function buildCanarySplit(routing: CanaryRouting, stable: CaddyHandler, canary: CaddyHandler): CaddyHandler[] {
  const [stableDials, canaryDials] = [fixedDials(stable), fixedDials(canary)];
  if (!stableDials || !canaryDials) return [buildDrawSplit(routing, stable, canary)];
  const sticky = routing.sticky && routing.weight > 0 ? routing.version : null;
  const cookie = sticky === null ? {} : { add: { 'Set-Cookie': [stickyCookie(STICKY_VAR)] } };
  const weighted: CaddyHandler[] = [
    trackMap(canaryDials, sticky),
    {
      ...stable, upstreams: weightedDials(stableDials, canaryDials, routing.weight).map((dial) => ({ dial })),
      headers: { response: { set: { [TRACK_HEADER]: [TRACK_VAR] }, ...cookie } },
    },
  ];
  const matched = matchedRoutes(routing, sticky, tagged(stable, 'stable'), tagged(canary, 'canary'));
  return matched.length ? [{ handler: 'subroute', routes: [...matched, { handle: weighted }] }] : weighted;
}

/** The draw form (a stable side behind a DNS name): one subroute, the UUID draw, a tag before each proxy. */
function buildDrawSplit(routing: CanaryRouting, stable: CaddyHandler, canary: CaddyHandler): CaddyHandler {
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

/** The weighted proxy's handlers ([map, proxy]) when `handlers` are they; null otherwise. */
function weightedOf(handlers: CaddyHandler[] | undefined): { map: CaddyHandler; proxy: CaddyHandler } | null {
  const [map, proxy] = handlers ?? [];
  const destinations = map?.destinations as string[] | undefined;
  if (map?.handler !== 'map' || map.source !== UPSTREAM || destinations?.[0] !== TRACK_VAR || proxy?.handler !== 'reverse_proxy') return null;
  return { map, proxy };
}

/** True for handlers buildCanarySplit made (either form). */
export function isCanarySplit(handlers: CaddyHandler[] | undefined): boolean {
  if (weightedOf(handlers)) return true;
  const routes = handlers?.[0]?.handler === 'subroute' ? handlers[0].routes as CaddyRoute[] | undefined : undefined;
  return !!routes?.length && (trackOf(routes.at(-1)!) === 'stable' || !!weightedOf(routes.at(-1)!.handle));
}

/** The track a branch serves: its tag handler's (draw form) or its tagged proxy's. */
function trackOf(route: CaddyRoute): Track | null {
  const first = route.handle?.[0];
  const headers = first?.handler === 'headers' ? first.response : (first?.headers as { response?: unknown } | undefined)?.response;
  const track = (headers as { set?: Record<string, string[]> } | undefined)?.set?.[TRACK_HEADER]?.[0];
  return track === 'stable' || track === 'canary' ? track : null;
}

/** The proxy of a branch, without Berth's tag. */
function proxyOf(route: CaddyRoute): CaddyHandler | undefined {
  const proxy = route.handle?.find((h) => h.handler === 'reverse_proxy');
  if (!proxy) return undefined;
  const { headers: _tag, ...plain } = proxy;
  return plain as CaddyHandler;
}

/**
 * Reads a split back: the stable proxy handler, and the canary's routing with the canary proxy's handler;
 * `upstreamsOf` reads a proxy's upstream list. Null for handlers that are not a split.
 */
export function parseCanarySplit(handlers: CaddyHandler[], upstreamsOf: (proxy: CaddyHandler | undefined) => Upstream[]):
  { stable: CaddyHandler; canary: CanaryRoute } | null {
  if (!isCanarySplit(handlers)) return null;
  const routes = handlers[0]!.handler === 'subroute' ? handlers[0]!.routes as CaddyRoute[] : [];
  const weighted = weightedOf(handlers) ?? weightedOf(routes.at(-1)?.handle);
  const matched = weighted && routes.length ? routes.slice(0, -1) : routes;
  const routing: CanaryRoute = { version: 0, weight: 0, header: null, cookie: null, sticky: false, upstreams: [] };
  let stable: CaddyHandler | undefined = weighted ? undefined : proxyOf(routes.at(-1)!);
  if (weighted) {
    const mappings = (weighted.map.mappings as Array<{ input?: string; outputs?: unknown[] }> | undefined) ?? [];
    const canaryDials = mappings.filter((m) => m.outputs?.[0] === 'canary').map((m) => m.input!);
    const dials = (weighted.proxy.upstreams as Array<{ dial: string }> | undefined ?? []).map((u) => u.dial);
    const isCanary = new Set(canaryDials);
    routing.weight = dials.length ? Math.round((dials.filter((d) => isCanary.has(d)).length * 100) / dials.length) : 0;
    const { headers: _tag, ...proxy } = weighted.proxy;
    stable = { ...proxy, upstreams: [...new Set(dials.filter((d) => !isCanary.has(d)))].map((dial) => ({ dial })) } as CaddyHandler;
    routing.upstreams = upstreamsOf({ ...proxy, upstreams: canaryDials.map((dial) => ({ dial })) } as CaddyHandler);
  }
  for (const route of matched.filter((r) => trackOf(r) === 'canary')) {
    const match = route.match?.[0] as Record<string, unknown> | undefined;
    const draw = (match?.vars_regexp as Record<string, { pattern?: string }> | undefined)?.['{http.request.uuid}']?.pattern;
    const header = match?.header as Record<string, string[]> | undefined;
    const cookie = cookieOfMatcher(match);
    if (!routing.upstreams.length) routing.upstreams = upstreamsOf(proxyOf(route));
    if (draw !== undefined) routing.weight = Math.round(((slotsOfPattern(draw) ?? 0) * 100) / SLOTS);
    else if (header) { const [name, values] = Object.entries(header)[0]!; routing.header = { name, value: values[0]! }; }
    else if (cookie?.name === STICKY_COOKIE && /^c\d+$/.test(cookie.value)) { routing.sticky = true; routing.version = Number(cookie.value.slice(1)); }
    else if (cookie) routing.cookie = cookie;
  }
  return { stable: stable!, canary: routing };
}
