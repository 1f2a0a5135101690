// Drain, undrain and remove a node (or remove a retired Docker host) from the hosts page, through the same API as
// `berth hosts:drain` etc.
// Each action writes its progress and result into one activity list under the table; Remove asks first.
import { api } from '../api.ts';
import { h, replace } from '../dom.ts';
import type { PageContext } from '../main.ts';

export interface HostState { name: string; status: string; draining: boolean }
interface Moved { moved: number; log?: string[] }

export interface HostActions {
  /** The activity list (progress and results), placed once on the page. */
  el: HTMLElement;
  /** The action buttons of one table row; the local engine has none (Berth itself runs there). */
  buttons(host: HostState): HTMLElement;
}

export function hostActions(ctx: PageContext, refresh: () => void): HostActions {
  const busy = new Set<string>();
  const log = h('ol', { class: 'activity', id: 'host-activity', role: 'log', 'aria-label': 'Host actions' });
  const el = h('section', { class: 'card', 'aria-labelledby': 'host-activity-title' },
    h('h2', { id: 'host-activity-title' }, 'Activity'),
    h('p', { class: 'hint' }, 'Drain moves a node\'s instances to the other nodes without dropping a request; Remove drains, then takes it out of the cluster.'),
    log);

  const perform = async (host: string, doing: string, work: () => Promise<string>) => {
    const status = h('span', { class: 'state' }, `${doing}…`);
    const entry = h('li', { 'data-host': host, 'data-state': 'running' }, status);
    log.prepend(entry);
    busy.add(host);
    refresh();
    try {
      const text = await work();
      entry.dataset.state = 'done';
      replace(status, text);
    } catch (err) {
      entry.dataset.state = 'failed';
      status.className = 'state error';
      replace(status, `${doing} failed: ${(err as Error).message}`);
    } finally {
      busy.delete(host);
      if (!ctx.signal.aborted) refresh();
    }
    return entry;
  };

  const withLog = (entry: Promise<HTMLLIElement>, lines: string[]) => {
    void entry.then((li) => { if (lines.length) li.append(h('pre', { class: 'detail' }, lines.join('\n'))); });
  };

  const drain = (name: string) => {
    const lines: string[] = [];
    withLog(perform(name, `Draining ${name}`, async () => {
      const res = await api<Moved>('POST', `/hosts/${encodeURIComponent(name)}/drain`);
      lines.push(...(res.log ?? []));
      return `${name} drained: ${res.moved} instance(s) moved to other hosts; it takes no new ones.`;
    }), lines);
  };

  const undrain = (name: string) => void perform(name, `Undraining ${name}`, async () => {
    await api('DELETE', `/hosts/${encodeURIComponent(name)}/drain`);
    return `${name} takes new instances again (the moved ones stay where they are).`;
  });

  const remove = (name: string) => {
    const lines: string[] = [];
    withLog(perform(name, `Removing ${name}`, async () => {
      const res = await api<Moved>('DELETE', `/hosts/${encodeURIComponent(name)}`);
      lines.push(...(res.log ?? []));
      return `${name} removed${res.moved ? `: ${res.moved} instance(s) moved off it first` : ''}.`;
    }), lines);
  };

  const confirmRemove = (host: HostState, returnFocus: () => void) => {
    const cancel = h('button', { type: 'button', class: 'small', autofocus: true }, 'Cancel');
    const confirm = h('button', { type: 'button', class: 'danger-solid' }, `Remove ${host.name}`);
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
      h('h2', { id: 'confirm-title' }, `Remove ${host.name}?`),
      h('p', { id: 'confirm-text' }, host.status === 'retired'
        ? `${host.name} is a Docker host of an older Berth: the containers Berth left there are removed over SSH, then Berth forgets it. Docker stays installed there.`
        : `Its instances move to the other nodes first, without dropping a request; then it leaves the cluster.`),
      h('div', { class: 'row' }, confirm, cancel));
    const close = (then: () => void) => { dialog.close(); dialog.remove(); then(); };
    cancel.addEventListener('click', () => close(returnFocus));
    confirm.addEventListener('click', () => close(() => { remove(host.name); returnFocus(); }));
    dialog.addEventListener('cancel', (event) => { event.preventDefault(); close(returnFocus); }); // Escape
    ctx.main.append(dialog);
    dialog.showModal();
    cancel.focus();
  };

  const buttons = (host: HostState): HTMLElement => {
    if (host.name === 'local') return h('span', { class: 'hint' }, 'Berth\'s own engine');
    const disabled = busy.has(host.name);
    const focusKey = (slot: number) => `${host.name}:${slot}`;
    const refocus = (slot: number) => () => document.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focusKey(slot))}"]`)?.focus();
    // A retired Docker host runs nothing for Berth: there is nothing to drain.
    const toggle = host.status === 'retired' ? null : host.draining
      ? h('button', { type: 'button', class: 'small', disabled, 'data-focus-key': focusKey(0), 'aria-label': `Undrain ${host.name}`, onclick: () => undrain(host.name) }, 'Undrain')
      : h('button', { type: 'button', class: 'small', disabled: disabled || host.status !== 'up', 'data-focus-key': focusKey(0), 'aria-label': `Drain ${host.name}`, onclick: () => drain(host.name) }, 'Drain');
    const removeButton = h('button', {
      type: 'button', class: 'small danger', disabled, 'data-focus-key': focusKey(1), 'aria-label': `Remove ${host.name}`,
      onclick: () => confirmRemove(host, refocus(1)),
    }, 'Remove');
    return h('div', { class: 'row actions' }, toggle, removeButton);
  };

  return { el, buttons };
}
