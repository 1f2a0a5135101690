// Live output: the merged log of every instance (filter, pause) and the build log of a push as it builds.
import { readNdjson, type Build } from '../api.ts';
import { api } from '../api.ts';
import { ago, badge, h, replace } from '../dom.ts';
import type { Section } from './app.ts';

const MAX_LINES = 2000;

interface LogLine { time: string; process: string; index: number; stream: string; line: string }

export function liveLogSection(path: string, signal: AbortSignal): { el: HTMLElement } {
  const out = h('pre', { class: 'log', id: 'live-log', 'aria-live': 'off', tabindex: '0', 'aria-label': 'Live log' });
  const filter = h('input', { id: 'log-filter', type: 'search', placeholder: 'text to match', autocomplete: 'off' });
  const pause = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Pause');
  const state = h('span', { class: 'hint', id: 'log-state' }, 'connecting…');
  let paused = false;
  const held: string[] = [];
  const visible = (text: string) => !filter.value || text.toLowerCase().includes(filter.value.toLowerCase());
  const show = (text: string) => {
    const line = h('div', { hidden: !visible(text) }, text);
    out.append(line);
    while (out.childElementCount > MAX_LINES) out.firstElementChild!.remove();
    if (!paused) out.scrollTop = out.scrollHeight;
  };
  filter.addEventListener('input', () => { for (const line of out.children) (line as HTMLElement).hidden = !visible(line.textContent ?? ''); });
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (!paused) for (const text of held.splice(0)) show(text);
  });

  const follow = async () => {
    // A stream ends when the server restarts or the app has no instances yet: reconnect, bounded by the page's life.
    for (let attempt = 0; !signal.aborted && attempt < 1000; attempt++) {
      try {
        state.textContent = 'following';
        await readNdjson<LogLine>(`${path}/logs?tail=${attempt ? 0 : 100}&follow=1`, (l) => {
          const text = `${l.time.slice(11, 23)} ${l.process}.${l.index}: ${l.line}`;
          if (paused) held.push(text); else show(text);
        }, signal);
      } catch { state.textContent = 'reconnecting…'; }
      await new Promise((r) => setTimeout(r, 2000));
    }
  };
  void follow();
  const el = h('section', { class: 'card', id: 'logs', 'aria-labelledby': 'logs-title' },
    h('h2', { id: 'logs-title' }, 'Live log'),
    h('div', { class: 'row wrap' }, h('label', { for: 'log-filter' }, 'Filter'), filter, pause, state),
    out);
  return { el };
}

export function buildsSection(path: string, signal: AbortSignal): Section {
  const list = h('ul', { class: 'builds' });
  const out = h('pre', { class: 'log build-log', id: 'build-log', hidden: true, tabindex: '0', 'aria-label': 'Build log' });
  let watching: AbortController | null = null;
  let watchingId = 0;
  let known: Set<number> | null = null;
  const open = async (build: Build) => {
    watching?.abort();
    watching = new AbortController();
    signal.addEventListener('abort', () => watching?.abort(), { once: true });
    watchingId = build.id;
    out.hidden = false;
    out.dataset.build = String(build.id);
    replace(out);
    await readNdjson<{ line?: string; done?: boolean; status?: string }>(`${path}/builds/${build.id}/log`, (item) => {
      if (item.line !== undefined) out.append(h('div', {}, item.line));
      if (item.done) { out.append(h('div', { class: 'hint' }, `— build ${item.status}`)); out.dataset.done = item.status; }
      out.scrollTop = out.scrollHeight;
    }, watching.signal).catch(() => {});
  };
  const refresh = async () => {
    const builds = await api<Build[]>('GET', `${path}/builds`);
    replace(list, builds.slice(0, 10).map((b) => {
      const view = h('button', { type: 'button', class: 'small', 'aria-label': `Show the log of build ${b.id}` }, 'Log');
      view.addEventListener('click', () => void open(b));
      return h('li', { 'data-build': b.id }, badge(b.status), ` ${b.commitSha.slice(0, 7)} by ${b.pushedBy} ${ago(b.startedAt)} `, view);
    }));
    if (!builds.length) replace(list, h('li', { class: 'hint' }, 'No git pushes yet.'));
    // A build that is running, or that started while this page was open, shows its log by itself.
    const fresh = builds.find((b) => b.status === 'building' || (known !== null && !known.has(b.id)));
    known ??= new Set(builds.map((b) => b.id));
    if (fresh && fresh.id !== watchingId) void open(fresh);
  };
  const el = h('section', { class: 'card', id: 'builds', 'aria-labelledby': 'builds-title' }, h('h2', { id: 'builds-title' }, 'Builds'), list, out);
  return { el, refresh };
}
