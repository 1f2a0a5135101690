// hosts, hosts:add, hosts:drain, hosts:undrain, hosts:remove (admins)
import fs from 'node:fs';
import { CliError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import { table } from '../format.ts';

interface HostView {
  name: string; address: string; role: string; status: string; draining: boolean;
  memoryMB: number | null; cpus: number | null; instances: number; lastHeartbeatAt: string | null;
  load: { cpuPercent: number | null; memUsed: number | null; memTotal: number | null; diskUsed: number | null; diskTotal: number | null } | null;
  containers: number | null;
}

const GiB = 1024 ** 3;
/** "3.1/23.5G": used of total, or "-" when the host did not answer. */
function usage(used: number | null | undefined, total: number | null | undefined): string {
  if (typeof used !== 'number' || typeof total !== 'number') return '-';
  return `${(used / GiB).toFixed(1)}/${(total / GiB).toFixed(1)}G`;
}

interface TaskLine { task?: string; status?: string; detail?: string; done?: boolean; summary?: Summary }
interface Summary { ok: number; changed: number; wouldChange: number; failed: number; succeeded: boolean }

async function listHosts(ctx: CommandContext): Promise<void> {
  const hosts = await ctx.api().get<HostView[]>('/hosts');
  if (printedJson(ctx, hosts)) return;
  const rows = hosts.map((h) => [
    h.name, h.address, h.role, h.draining ? `${h.status}, draining` : h.status,
    typeof h.load?.cpuPercent === 'number' ? `${h.load.cpuPercent.toFixed(0)}%` : '-',
    h.load ? usage(h.load.memUsed, h.load.memTotal) : h.memoryMB === null ? '-' : `${h.memoryMB} MB`,
    usage(h.load?.diskUsed, h.load?.diskTotal), String(h.instances), h.containers === null || h.containers === undefined ? '-' : String(h.containers),
  ]);
  table(['NAME', 'ADDRESS', 'ROLE', 'STATUS', 'CPU', 'MEMORY', 'DISK', 'INSTANCES', 'CONTAINERS'], rows).forEach((line) => ctx.io.out(line));
}

/** Ansible-like: one line per task as the server reports it, the failing task's command, output and hint below it. */
export function formatTaskLine(line: TaskLine): string[] {
  const label = (line.status ?? '').padEnd(12);
  const out = [`${label} ${line.task}`];
  if (line.detail) out.push(...line.detail.split('\n').map((l) => `             ${l}`));
  return out;
}

async function addHost(ctx: CommandContext): Promise<void> {
  const keyFile = stringFlag(ctx, 'ssh-key');
  let sshKey: string | undefined;
  if (keyFile) {
    try {
      sshKey = fs.readFileSync(keyFile, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read the SSH key ${keyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const body = { address: ctx.args[0], role: stringFlag(ctx, 'role'), name: stringFlag(ctx, 'name'), sshKey, hostKey: stringFlag(ctx, 'host-key'), check: ctx.flags.check === true };
  let summary: Summary | undefined;
  for await (const line of ctx.api().stream<TaskLine>('/hosts', body)) {
    if (line.done) { summary = line.summary; continue; }
    if (ctx.json) ctx.io.out(JSON.stringify(line));
    else formatTaskLine(line).forEach((l) => ctx.io.out(l));
  }
  if (!summary) throw new CliError('the server ended the installer run without a summary');
  if (!ctx.json) {
    ctx.io.out(`ok=${summary.ok} changed=${summary.changed}${body.check ? ` would-change=${summary.wouldChange}` : ''} failed=${summary.failed}`);
  }
  if (!summary.succeeded) throw new CliError(`installing ${ctx.args[0]} failed (see the failed task above)`);
}

async function drainHost(ctx: CommandContext): Promise<void> {
  const name = ctx.args[0];
  const answer = await withProgress(ctx, `Draining ${name}`, (api) =>
    api.post<{ moved: number }>(`/hosts/${encodeURIComponent(name)}/drain`));
  if (printedJson(ctx, answer)) return;
  ctx.io.out(`${answer.moved} instance(s) moved off ${name}; it takes no new instances until hosts:undrain.`);
}

async function undrainHost(ctx: CommandContext): Promise<void> {
  const name = ctx.args[0];
  const answer = await withProgress(ctx, `Ending the drain of ${name}`, (api) => api.delete(`/hosts/${encodeURIComponent(name)}/drain`));
  printedJson(ctx, answer);
}

async function removeHost(ctx: CommandContext): Promise<void> {
  const name = ctx.args[0];
  const answer = await withProgress(ctx, `Draining and removing ${name}`, (api) =>
    api.delete<{ moved: number }>(`/hosts/${encodeURIComponent(name)}`));
  if (printedJson(ctx, answer)) return;
  ctx.io.out(`${answer.moved} instance(s) moved off ${name}; Berth no longer uses it (Docker stays installed there).`);
}

export const hostCommands: Command[] = [
  { name: 'hosts', usage: '', summary: 'list the machines apps run on', run: listHosts },
  {
    name: 'hosts:add', usage: 'USER@HOST[:PORT] [--ssh-key FILE] [--host-key SHA256:...] [--role docker|k3s-server|k3s-agent] [--name NAME] [--check]',
    summary: 'install a host over SSH and add it (--check: only show what would change)', args: [1, 1],
    options: { 'ssh-key': { type: 'string' }, 'host-key': { type: 'string' }, role: { type: 'string' }, name: { type: 'string' }, check: { type: 'boolean' } },
    run: addHost,
  },
  { name: 'hosts:drain', usage: 'NAME', summary: 'move every instance off a host, without downtime', args: [1, 1], run: drainHost },
  { name: 'hosts:undrain', usage: 'NAME', summary: 'let a drained host take new instances again', args: [1, 1], run: undrainHost },
  { name: 'hosts:remove', usage: 'NAME', summary: 'drain a host, then stop using it', args: [1, 1], run: removeHost },
];
