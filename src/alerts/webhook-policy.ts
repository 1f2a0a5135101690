// Where this server's alert webhooks may go: public addresses, the operator's BERTH_WEBHOOK_ALLOW, and on
// this machine's own addresses only the router's ports (apps hosted here), never the API, the registry or
// Caddy's admin API. The same rules hold for every user: a rule is checked again at each delivery, so what
// its creator was allowed then does not matter.
import os from 'node:os';
import type { Config } from '../config.ts';
import { OutboundPolicy } from '../shared/outbound-address.ts';
import { OutboundGuard, type Resolver } from '../shared/outbound-request.ts';
import { parseAdminUrl } from '../router/caddy/admin-client.ts';

type PolicyConfig = Pick<Config, 'webhookAllow' | 'apiPort' | 'registry' | 'caddyAdmin' | 'httpPort' | 'httpsPort'>;

export function webhookGuard(config: PolicyConfig, env: NodeJS.ProcessEnv = process.env, resolve?: Resolver): OutboundGuard {
  const admin = parseAdminUrl(config.caddyAdmin);
  const ownPorts = [
    config.apiPort,
    portOf(config.registry),
    portOf(env.BERTH_REGISTRY_ADVERTISE),
    portOf(env.BERTH_REGISTRY_LISTEN),
    'port' in admin ? admin.port : null,
  ].filter((p): p is number => p !== null);
  return new OutboundGuard(new OutboundPolicy({
    allow: config.webhookAllow,
    ownAddresses: ownAddresses,
    ownPorts,
    routerPorts: [config.httpPort, config.httpsPort],
  }), resolve);
}

function ownAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}

/** The port of "host:port" or "[v6]:port"; null when there is none. */
function portOf(address: string | undefined): number | null {
  const m = /:(\d{1,5})$/.exec(address ?? '');
  return m ? Number(m[1]) : null;
}
