// Admin (admins only): the installation's integrity report (GET /api/v1/admin/check: database integrity,
// live releases whose image is missing, containers no app owns, disk use per app) and a backup download
// (GET /api/v1/admin/backup, without the secrets key; the CLI's --include-key adds it).
import { api, ApiError } from '../api.ts';
import { badge, h, replace } from '../dom.ts';
import type { PageContext } from '../main.ts';
import type { CheckReport } from '../../src/wire/types.ts';


const mb = (bytes: number) => (bytes < 1048576 ? `${(bytes / 1024).toFixed(0)} KB` : `${(bytes / 1048576).toFixed(1)} MB`);

export async function adminPage(ctx: PageContext): Promise<void> {
  if (ctx.user.role !== 'admin') {
    replace(ctx.main, h('h1', {}, 'Admin'), h('p', { class: 'notice', role: 'status' }, 'Only admins see the admin page.'));
    return;
  }
  const report = h('div', { 'aria-live': 'polite' });
  const run = h('button', { type: 'button', onclick: () => void load() }, 'Run the check again');
  replace(ctx.main, h('h1', {}, 'Admin'),
    h('section', { 'aria-labelledby': 'check-title' }, h('h2', { id: 'check-title' }, 'Integrity check'), run, report),
    h('section', { 'aria-labelledby': 'backup-title' }, h('h2', { id: 'backup-title' }, 'Backup'),
      h('p', {}, 'A tar archive of the whole installation: database, git repositories, images, stored logs and added certificates. ',
        'It does not hold the secrets key: keep the server\'s secrets.key too, or use berth admin:backup --include-key.'),
      h('a', { href: '/api/v1/admin/backup', download: 'berth-backup.tar', class: 'button' }, 'Download a backup')));
  const load = async () => {
    run.disabled = true;
    replace(report, h('p', { class: 'hint' }, 'Checking…'));
    try {
      const r = await api<CheckReport>('GET', '/admin/check');
      if (ctx.signal.aborted) return;
      replace(report,
        h('p', {}, badge(r.ok ? 'healthy' : 'failed'), r.ok ? ' No problems found' : ' Problems found (below)', `, checked ${new Date(r.checkedAt).toLocaleString()}`),
        h('h3', {}, 'Database'),
        h('p', {}, r.database.ok ? 'SQLite integrity check: ok' : `SQLite integrity check fails: ${r.database.messages.slice(0, 5).join('; ')}`),
        h('h3', {}, 'Missing images'),
        r.missingImages.length
          ? h('ul', { class: 'missing-images' }, r.missingImages.map((m) => h('li', {}, `${m.app} v${m.version} (${m.imageRef}): ${m.problem}`)))
          : h('p', {}, 'Every live release\'s image is present.'),
        h('h3', {}, 'Orphan containers'),
        r.orphanContainers.length
          ? h('ul', { class: 'orphans' }, r.orphanContainers.map((c) => h('li', {}, `${c.name} (${c.id}), app ${c.app || '—'}, ${c.state}`)))
          : h('p', {}, 'None: every container of this installation belongs to an app.'),
        h('h3', {}, 'Disk use per app'),
        h('div', { class: 'scroll' }, h('table', { class: 'disk-use' },
          h('thead', {}, h('tr', {}, ['App', 'Repository', 'Logs', 'Build logs', 'Total'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, r.disk.map((d) => h('tr', {}, h('th', { scope: 'row' }, d.app),
            h('td', {}, mb(d.repoBytes)), h('td', {}, mb(d.logBytes)), h('td', {}, mb(d.buildLogBytes)), h('td', {}, mb(d.totalBytes))))))));
    } catch (err) {
      replace(report, h('p', { class: 'notice error', role: 'alert' }, err instanceof ApiError && err.status === 403 ? 'Only admins can run the check.' : (err as Error).message));
    } finally {
      run.disabled = false;
    }
  };
  await load();
}
