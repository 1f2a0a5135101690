// domains, domains:add, domains:remove
import { appPath } from '../client.ts';
import { printedJson, withProgress, type Command, type CommandContext } from '../command.ts';
import { table } from '../format.ts';
import type { CertificateStatus, Domain } from '../../wire/types.ts';

async function listDomains(ctx: CommandContext): Promise<void> {
  const domains = await ctx.api().get<Domain[]>(appPath(ctx.app, '/domains'));
  if (printedJson(ctx, domains)) return;
  if (domains.length === 0) return ctx.io.out(`${ctx.app} has no domains.`);
  const rows = domains.map((domain) => [domain.hostname, domain.kind, certificateSummary(domain.certificate)]);
  table(['HOSTNAME', 'KIND', 'CERTIFICATE'], rows).forEach((line) => ctx.io.out(line));
  // Reasons are long (the CA's own words): one line each, under the table.
  for (const { hostname, certificate } of domains) {
    if (certificate?.reason) ctx.io.out(`${hostname}: ${certificate.reason}`);
  }
}

/** "issued, expires 2027-03-01 (Pebble Intermediate CA)", "failed, retrying at 12:03:00 UTC", "pending", ... */
export function certificateSummary(cert: CertificateStatus | undefined): string {
  if (!cert) return '-';
  if (cert.state === 'issued') return `issued, expires ${cert.expiresAt?.slice(0, 10) ?? '?'}${cert.issuer ? ` (${cert.issuer})` : ''}`;
  if (cert.state === 'failed') return cert.retryAt ? `failed, retrying at ${cert.retryAt.slice(11, 19)} UTC` : 'failed';
  if (cert.state === 'custom') return `custom, expires ${cert.expiresAt?.slice(0, 10) ?? '?'}`;
  return cert.state;
}

async function addDomain(ctx: CommandContext): Promise<void> {
  const hostname = ctx.args[0];
  const domain = await withProgress(ctx, `Adding ${hostname} to ${ctx.app}`, (api) =>
    api.post<Domain>(appPath(ctx.app, '/domains'), { hostname }),
  );
  if (printedJson(ctx, domain)) return;
  ctx.io.out(`Point the DNS of ${hostname} at this Berth server; its HTTPS certificate comes once it does ("berth domains ${ctx.app}" shows it).`);
}

async function removeDomain(ctx: CommandContext): Promise<void> {
  const hostname = ctx.args[0];
  const answer = await withProgress(ctx, `Removing ${hostname} from ${ctx.app}`, (api) =>
    api.delete<{ deleted: string }>(appPath(ctx.app, `/domains/${encodeURIComponent(hostname)}`)),
  );
  printedJson(ctx, answer);
}

export const domainCommands: Command[] = [
  { name: 'domains', usage: 'APP', summary: 'list the hostnames an app answers on', app: true, run: listDomains },
  { name: 'domains:add', usage: 'APP HOSTNAME', summary: 'add a custom domain', app: true, args: [1, 1], run: addDomain },
  { name: 'domains:remove', usage: 'APP HOSTNAME', summary: 'remove a custom domain', app: true, args: [1, 1], run: removeDomain },
];
