// hosts, hosts:add, hosts:drain, hosts:undrain, hosts:remove (admins)
import fs from 'node:fs';
import { CliError, printedJson, stringFlag, withProgress, type Command, type CommandContext } from '../command.ts';
import { relativeTime, table } from '../format.ts';
import { ApiError } from '../client.ts';
import type { NodeList, NodeView } from '../../wire/hosts.ts';

interface HostView {
  name: string; address: string; role: string; status: string; draining: boolean;
  memoryMB: number | null; cpus: number | null; instances: number | null;
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

/** One node of `berth hosts`: readiness since when, cordon, requested/allocatable CPU and memory, pods, host record. */
export function nodeRow(n: NodeView, now = Date.now()): string[] {
  const since = n.readinessSince ? ` ${relativeTime(n.readinessSince, now).replace(/ ago$/, '')}` : '';
  const of = (used: number, total: number | null, unit: string) => `${used}${unit}/${total === null ? '?' : `${total}${unit}`}`;
  return [
    n.name, n.role, `${n.readiness}${since}${n.schedulable ? '' : ', cordoned'}`, n.address ?? '-',
    of(n.cpu.requested, n.cpu.allocatable, ''), of(n.memoryMB.requested, n.memoryMB.allocatable, 'M'),
    `${n.pods} (${n.berthPods})`, n.host ? `${n.host.name} (${n.host.role})` : '-',
  ];
}

/** The cluster's nodes, or null when the installation has no cluster. */
async function clusterNodes(ctx: CommandContext): Promise<NodeView[] | null> {
  try {
    return (await ctx.api().get<NodeList>('/hosts/nodes')).nodes;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null; // no_cluster, or a server from before nodes
    throw err;
  }
}

async function listHosts(ctx: CommandContext): Promise<void> {
  const [nodes, hosts] = await Promise.all([clusterNodes(ctx), ctx.api().get<HostView[]>('/hosts')]);
  if (printedJson(ctx, nodes ? { nodes, hosts } : hosts)) return;
  if (nodes) {
    ctx.io.out('Kubernetes nodes (CPU and memory: requested/allocatable; PODS: all (Berth\'s)):');
    table(['NAME', 'ROLE', 'STATUS', 'ADDRESS', 'CPU', 'MEMORY', 'PODS', 'HOST'], nodes.map((n) => nodeRow(n))).forEach((line) => ctx.io.out(line));
    for (const n of nodes.filter((x) => x.reason)) ctx.io.out(`  ${n.name}: ${n.reason}`);
    ctx.io.out('');
    ctx.io.out('Hosts:');
  }
  const rows = hosts.map((h) => [
    h.name, h.address, h.role, h.draining ? `${h.status}, draining` : h.status,
    typeof h.load?.cpuPercent === 'number' ? `${h.load.cpuPercent.toFixed(0)}%` : '-',
    h.load ? usage(h.load.memUsed, h.load.memTotal) : h.memoryMB === null ? '-' : `${h.memoryMB} MB`,
    usage(h.load?.diskUsed, h.load?.diskTotal), h.instances === null ? '-' : String(h.instances), h.containers === null || h.containers === undefined ? '-' : String(h.containers),
  ]);
  table(['NAME', 'ADDRESS', 'ROLE', 'STATUS', 'CPU', 'MEMORY', 'DISK', 'INSTANCES', 'CONTAINERS'], rows).forEach((line) => ctx.io.out(line));
  for (const h of hosts.filter((x) => x.status === 'retired')) {
    ctx.io.out(`  ${h.name}: a Docker host of an older Berth, no longer used; berth hosts:remove ${h.name} finishes the move (docs/k3s.md)`);
  }
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
  const body = {
    address: ctx.args[0], role: stringFlag(ctx, 'role'), name: stringFlag(ctx, 'name'), sshKey, hostKey: stringFlag(ctx, 'host-key'),
    podCidr: stringFlag(ctx, 'pod-cidr'), check: ctx.flags.check === true,
  };
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
    api.post<{ moved: number; done?: boolean; unplaced?: string[]; log?: string[] }>(`/hosts/${encodeURIComponent(name)}/drain`));
  if (printedJson(ctx, answer)) return;
  if (answer.done === false) {
    (answer.log ?? []).forEach((line) => ctx.io.out(line));
    throw new CliError(`${name} is cordoned, but not all of its instances run elsewhere${answer.unplaced?.length ? ` (no node can take ${answer.unplaced.join(', ')})` : ''}; hosts:undrain ${name} takes it back`);
  }
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
    api.delete<{ moved: number; log?: string[] }>(`/hosts/${encodeURIComponent(name)}`));
  if (printedJson(ctx, answer)) return;
  (answer.log ?? []).forEach((line) => ctx.io.out(line));
  ctx.io.out(`${answer.moved} instance(s) moved off ${name}; Berth no longer uses it.`);
}

export const hostCommands: Command[] = [
  { name: 'hosts', usage: '', summary: 'list the machines apps run on: cluster nodes, this machine\'s Docker engine', run: listHosts },
  {
    name: 'hosts:add', usage: 'USER@HOST[:PORT] [--ssh-key FILE] [--host-key SHA256:...] [--role k3s-server|k3s-agent|kubelet] [--pod-cidr CIDR] [--name NAME] [--check]',
    summary: 'install a host over SSH and join it to the cluster (--check: only show what would change)', args: [1, 1],
    options: {
      'ssh-key': { type: 'string' }, 'host-key': { type: 'string' }, role: { type: 'string' }, name: { type: 'string' }, 'pod-cidr': { type: 'string' },
      check: { type: 'boolean' },
    },
    run: addHost,
  },
  { name: 'hosts:drain', usage: 'NAME', summary: 'move every instance off a node, without downtime', args: [1, 1], run: drainHost },
  { name: 'hosts:undrain', usage: 'NAME', summary: 'let a drained node take new instances again', args: [1, 1], run: undrainHost },
  { name: 'hosts:remove', usage: 'NAME', summary: 'drain a node, then take it out of the cluster (a retired Docker host: clean it up)', args: [1, 1], run: removeHost },
];
