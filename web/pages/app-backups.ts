// One add-on's backups, opened from its row on the Resources tab: the list (newest first; a failed one says why),
// capture now, a download link per good backup (the browser streams it with the session cookie), and restore over
// the add-on after its name is typed, as `berth backups:restore` asks for --confirm.
import { api, type Addon, type Backup, type BackupList, type BackupRestore } from '../api.ts';
import { ago, badge, bytes, h, notice, replace } from '../dom.ts';
import { act } from './app-sections.ts';
import { typedConfirm } from './typed-confirm.ts';

export interface BackupsPanel { el: HTMLElement; refresh(): Promise<void> }

const seconds = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`);

export function backupsPanel(addon: Addon): BackupsPanel {
  const base = `/addons/${encodeURIComponent(addon.name)}/backups`;
  const msg = notice();
  const list = h('div');
  const schedule = h('p', { class: 'hint' });
  const capture = h('button', { type: 'button', class: 'small', 'aria-label': `Capture a backup of ${addon.name}` }, 'Capture now');
  capture.addEventListener('click', () => {
    void act(msg, capture, async () => {
      msg.info(`Capturing a backup of ${addon.name}…`);
      const b = await api<Backup>('POST', base);
      msg.info(`${b.id} captured: ${bytes(b.size)} in ${seconds(b.durationMs)}.`);
    }, refresh);
  });

  const restore = (id: string, button: HTMLButtonElement) => typedConfirm({
    title: `Restore ${id} into ${addon.name}?`,
    text: `All the data in the ${addon.kind} add-on ${addon.name} is replaced by backup ${id}` +
      `${addon.attachedAs.length ? `, for ${[...new Set(addon.attachedAs.map((a) => a.app))].join(', ')}` : ''}. Berth checks the backup's checksum first.`,
    expected: addon.name,
    action: `Restore ${id}`,
    returnFocus: button,
    onConfirm: () => {
      void act(msg, button, async () => {
        msg.info(`Restoring ${id} into ${addon.name}…`);
        const r = await api<BackupRestore>('POST', `${base}/${encodeURIComponent(id)}/restore`, { confirm: addon.name });
        msg.info(`Restored ${r.from} into ${r.into} in ${seconds(r.durationMs)}.`);
      }, refresh);
    },
  });

  const refresh = async () => {
    const answer = await api<BackupList>('GET', base);
    schedule.textContent = answer.schedule
      ? `Daily at ${answer.schedule.at} UTC, keeping the last ${answer.schedule.keep} (next ${answer.schedule.nextRunAt}).`
      : `No schedule: berth backups:schedule ${addon.name} --at 02:00 --keep 7 sets one.`;
    const rows = answer.backups.map((b) => {
      const good = b.status === 'succeeded';
      const download = h('a', { href: `/api/v1${base}/${encodeURIComponent(b.id)}/download`, download: `${b.addon}-${b.id}.dump`, 'aria-label': `Download ${b.id}` }, 'Download');
      const restoreButton = h('button', { type: 'button', class: 'small danger', 'aria-label': `Restore ${b.id}` }, 'Restore');
      restoreButton.addEventListener('click', () => restore(b.id, restoreButton));
      return h('tr', { 'data-backup': b.id, 'data-status': b.status },
        h('td', { class: 'mono' }, b.id),
        h('td', {}, badge(b.status), b.error ? h('div', { class: 'notice error' }, b.error) : null),
        h('td', { title: b.startedAt }, ago(b.startedAt), h('div', { class: 'hint' }, b.trigger)),
        h('td', {}, bytes(b.size)),
        h('td', {}, seconds(b.durationMs)),
        h('td', {}, b.store),
        h('td', { class: 'actions' }, good ? [download, ' ', restoreButton] : null));
    });
    replace(list, rows.length
      ? h('div', { class: 'scroll' }, h('table', { 'aria-label': `Backups of ${addon.name}` },
        h('thead', {}, h('tr', {}, ...['Backup', 'Status', 'Started', 'Size', 'Took', 'Store', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows)))
      : h('p', { class: 'hint' }, 'No backups yet.'));
  };
  const el = h('div', { class: 'backups', 'data-backups-of': addon.name },
    h('div', { class: 'row' }, h('strong', {}, `Backups of ${addon.name}`), capture), schedule, list, msg.el);
  return { el, refresh };
}
