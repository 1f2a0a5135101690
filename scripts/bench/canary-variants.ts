// The route handlers canary-routing.ts measures beside Berth's own split, each adding one piece of a split to a
// plain proxy so the cost of each piece shows: a subroute, a response header set by a handler, the UUID draw
// (a vars_regexp on {http.request.uuid}), and one proxy over a weighted upstream list with a `map` tag.
import type { CaddyHandler } from '../../src/router/caddy/config.ts';
import { TRACK_HEADER, drawPattern, slotsFor } from '../../src/router/caddy/canary-split.ts';

/** `proxy`: the reverse_proxy handler Berth gives a route (its settings kept), dialling `dials` only. */
export function proxyTo(proxy: CaddyHandler, dials: string[]): CaddyHandler {
  const { dynamic_upstreams: _named, upstreams: _static, ...rest } = proxy;
  return { ...rest, upstreams: dials.map((dial) => ({ dial })) };
}

export function profileVariants(proxy: CaddyHandler, stable: string, canary: string, weight: number): Record<string, CaddyHandler[]> {
  const toStable = proxyTo(proxy, [stable]);
  const toCanary = proxyTo(proxy, [canary]);
  const tag = { handler: 'headers', response: { set: { [TRACK_HEADER]: ['stable'] } } };
  const canaryShare = Math.round(weight / 10);
  return {
    'static proxy': [toStable],
    '+ header handler': [tag, toStable],
    '+ subroute': [{ handler: 'subroute', routes: [{ handle: [toStable] }] }],
    '+ uuid draw': [{
      handler: 'subroute',
      routes: [{ match: [{ vars_regexp: { '{http.request.uuid}': { pattern: drawPattern(slotsFor(weight)) } } }], handle: [toCanary] }, { handle: [toStable] }],
    }],
    'weighted list': [proxyTo(proxy, [...Array(10 - canaryShare).fill(stable), ...Array(canaryShare).fill(canary)])],
    'weighted list + map tag': [
      { handler: 'map', source: '{http.reverse_proxy.upstream.hostport}', destinations: ['{berth.track}'], mappings: [{ input: canary, outputs: ['canary'] }], defaults: ['stable'] },
      { ...proxyTo(proxy, [...Array(10 - canaryShare).fill(stable), ...Array(canaryShare).fill(canary)]), headers: { response: { set: { [TRACK_HEADER]: ['{berth.track}'] } } } },
    ],
  };
}
