// "Add a host": the form behind `berth hosts:add`, which joins a machine to the k3s cluster. The installer's task
// lines stream in as they run (POST /api/v1/hosts answers NDJSON), so a fresh machine's minutes of installs are
// watched live. The first host is the k3s server; the others join it as agents.
import { ApiError, postNdjson } from '../api.ts';
import { badge, h, notice, replace } from '../dom.ts';
import type { PageContext } from '../main.ts';

interface TaskLine { task: string; status: string; detail?: string }
interface Summary { ok: number; changed: number; wouldChange: number; failed: number; succeeded: boolean }
type Streamed = TaskLine | { done: true; summary: Summary };

// No role: the server's default, a k3s agent once a k3s server is registered (the first host is told to pick the server).
const ROLES: [string, string][] = [
  ['', 'Automatic (k3s agent once there is a k3s server)'],
  ['k3s-server', 'k3s server (the first host: creates the cluster)'],
  ['k3s-agent', 'k3s agent (joins the k3s server)'],
  ['kubelet', 'plain kubelet node (joins Berth\'s cluster from the server\'s BERTH_KUBELET_* settings)'],
];

export function addHostForm(ctx: PageContext, onAdded: () => void): HTMLElement {
  const address = h('input', {
    id: 'host-address', name: 'address', required: true, autocomplete: 'off', spellcheck: 'false',
    placeholder: 'root@10.0.0.5', pattern: '([^@\\s]+@)?[^@\\s:]+(:\\d+)?', 'aria-describedby': 'host-address-hint',
  });
  const name = h('input', { id: 'host-name', name: 'name', autocomplete: 'off', spellcheck: 'false', placeholder: 'worker-1', pattern: '[a-z0-9][a-z0-9.\\-]{0,62}' });
  const role = h('select', { id: 'host-role', name: 'role' }, ROLES.map(([value, text]) => h('option', { value }, text)));
  // Only a kubelet node takes a pod range (hosts:add --pod-cidr); empty: the server picks the first free /24.
  const podCidr = h('input', {
    id: 'host-pod-cidr', name: 'podCidr', autocomplete: 'off', spellcheck: 'false', placeholder: '10.42.3.0/24',
    pattern: '\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}', 'aria-describedby': 'host-pod-cidr-hint',
  });
  const podCidrField = h('div', { hidden: true }, h('label', { for: 'host-pod-cidr' }, 'Pod range (optional)'), podCidr,
    h('p', { class: 'hint', id: 'host-pod-cidr-hint' }, "The node's pod addresses, inside BERTH_KUBELET_CLUSTER_CIDR; empty: the first free /24."));
  role.addEventListener('change', () => { podCidrField.hidden = role.value !== 'kubelet'; });
  const key = h('textarea', {
    id: 'host-key', name: 'sshKey', rows: 4, autocomplete: 'off', spellcheck: 'false', class: 'mono',
    placeholder: '-----BEGIN OPENSSH PRIVATE KEY-----', 'aria-describedby': 'host-key-hint',
  });
  const check = h('input', { id: 'host-check', name: 'check', type: 'checkbox' });
  const submit = h('button', { type: 'submit' }, 'Add host');
  check.addEventListener('change', () => { submit.textContent = check.checked ? 'Check host' : 'Add host'; });
  const msg = notice();
  const lines = h('ol', { class: 'task-lines', id: 'host-tasks', role: 'log', 'aria-label': 'Installer tasks' });

  const run = async () => {
    const body = {
      address: address.value.trim(),
      name: name.value.trim() || undefined,
      role: role.value || undefined,
      podCidr: role.value === 'kubelet' && podCidr.value.trim() ? podCidr.value.trim() : undefined,
      sshKey: key.value.trim() ? key.value : undefined,
      check: check.checked,
    };
    replace(lines);
    msg.info(`${body.check ? 'Checking' : 'Installing'} ${body.address}… a fresh machine takes a few minutes (apt installs).`);
    submit.disabled = true;
    const result: { summary: Summary | null } = { summary: null };
    try {
      await postNdjson<Streamed>('/hosts', body, (item) => {
        if ('done' in item) result.summary = item.summary;
        else lines.append(taskLine(item));
      }, ctx.signal);
      if (ctx.signal.aborted) return;
      const summary = result.summary;
      if (!summary) msg.error('The installer stopped without a summary (the connection broke off); run it again to see where it is.');
      else showSummary(summary, body.check);
      if (summary?.succeeded && !body.check) onAdded();
    } catch (err) {
      if (ctx.signal.aborted) return;
      msg.error(err instanceof ApiError ? err.message : `The request failed: ${(err as Error).message}`);
    } finally {
      submit.disabled = false;
    }
  };

  const showSummary = (s: Summary, checkOnly: boolean) => {
    const counts = `${s.ok} ok, ${s.changed} changed, ${s.wouldChange} would change, ${s.failed} failed`;
    if (!s.succeeded) msg.error(`Stopped at a failed task (${counts}): see its command, output and hint above.`);
    else if (checkOnly) msg.info(`Check done, nothing was changed: ${counts}.`);
    else msg.info(`Host added: ${counts}.`);
  };

  return h('form', {
    class: 'card add-host', 'aria-labelledby': 'add-host-title',
    onsubmit: (event: Event) => { event.preventDefault(); if (!submit.disabled) void run(); },
  },
  h('h2', { id: 'add-host-title' }, 'Add a host'),
  h('div', { class: 'fields' },
    h('div', {}, h('label', { for: 'host-address' }, 'Address'), address,
      h('p', { class: 'hint', id: 'host-address-hint' }, 'user@host[:port], reachable over SSH (the user defaults to root).')),
    h('div', {}, h('label', { for: 'host-name' }, 'Name (optional)'), name),
    h('div', {}, h('label', { for: 'host-role' }, 'Role'), role),
    podCidrField,
    h('div', { class: 'wide' }, h('label', { for: 'host-key' }, 'SSH private key (optional)'), key,
      h('p', { class: 'hint', id: 'host-key-hint' }, "Used once to log in, deleted after the run. Without it Berth logs in with its own key."))),
  h('div', { class: 'row check' },
    check, h('label', { for: 'host-check' }, 'Check only (show what would change, change nothing)')),
  h('div', { class: 'row' }, submit),
  msg.el, lines);
}

function taskLine(line: TaskLine): HTMLLIElement {
  return h('li', { 'data-status': line.status },
    badge(line.status), ' ', h('span', { class: 'task' }, line.task),
    line.detail ? h('pre', { class: 'detail' }, line.detail) : null);
}
