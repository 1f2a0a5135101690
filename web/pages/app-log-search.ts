// Search the stored logs of an app: a time window, text, process and instance, streamed from
// GET /apps/:app/logs and shown as the lines arrive, up to MAX_LINES.
import { readNdjson } from '../api.ts';
import { h, replace } from '../dom.ts';

const MAX_LINES = 2000;
const DURATION = /^\d+[smhd]$/;

interface StoredLine { time: string; instance: string; stream: string; line: string }

/** "2h" goes as it is; a date and time (what datetime-local or a person types) becomes an ISO time. */
export function windowBound(text: string): string | null {
  const value = text.trim();
  if (!value || DURATION.test(value)) return value || null;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new Error(`"${value}" is neither a duration like 2h nor a date and time.`);
  return at.toISOString();
}

function field(id: string, label: string, attrs: Record<string, unknown> = {}): [HTMLLabelElement, HTMLInputElement] {
  return [h('label', { for: id }, label), h('input', { id, name: id, autocomplete: 'off', ...attrs })];
}

export function logSearchSection(path: string, signal: AbortSignal): { el: HTMLElement } {
  const [sinceLabel, since] = field('search-since', 'Since', { value: '1h', placeholder: '2h or 2026-01-31 14:00', class: 'narrow-wide' });
  const [untilLabel, until] = field('search-until', 'Until', { placeholder: 'now', class: 'narrow-wide' });
  const [textLabel, text] = field('search-text', 'Text', { type: 'search', placeholder: 'exact text, case-sensitive' });
  const [processLabel, proc] = field('search-process', 'Process', { placeholder: 'web, router', class: 'narrow' });
  const [instanceLabel, instance] = field('search-instance', 'Instance', { placeholder: 'web.1', class: 'narrow' });
  const out = h('pre', { class: 'log results', id: 'log-results', tabindex: '0', 'aria-label': 'Stored log lines' });
  const state = h('p', { class: 'hint', id: 'log-search-state', role: 'status', 'aria-live': 'polite' });
  let running: AbortController | null = null;

  const search = async () => {
    running?.abort();
    const mine = new AbortController();
    running = mine;
    signal.addEventListener('abort', () => mine.abort(), { once: true });
    replace(out);
    let query: URLSearchParams;
    try {
      query = new URLSearchParams({ since: windowBound(since.value) ?? '1h', limit: String(MAX_LINES + 1) });
      const end = windowBound(until.value);
      if (end) query.set('until', end);
    } catch (err) { state.className = 'notice error'; state.textContent = (err as Error).message; out.dataset.state = 'failed'; return; }
    for (const [key, input] of [['grep', text], ['process', proc], ['instance', instance]] as const) if (input.value.trim()) query.set(key, input.value.trim());
    state.className = 'hint';
    state.textContent = 'searching…';
    out.dataset.state = 'searching';
    let count = 0;
    try {
      // One line past the cap tells that there is more without reading it all.
      await readNdjson<StoredLine>(`${path}/logs?${query}`, (l) => {
        if (++count > MAX_LINES) return;
        out.append(h('div', { class: l.stream === 'stderr' ? 'stderr' : undefined }, `${l.time.replace('T', ' ').slice(0, 23)} ${l.instance}: ${l.line}`));
      }, mine.signal);
    } catch (err) {
      if (mine.signal.aborted) return;
      state.className = 'notice error';
      state.textContent = (err as Error).message;
      out.dataset.state = 'failed';
      return;
    }
    if (mine.signal.aborted) return;
    state.textContent = count > MAX_LINES ? `First ${MAX_LINES} lines shown; there are more: narrow the window or the text.`
      : count ? `${count} line${count === 1 ? '' : 's'}.` : 'No lines match.';
    out.dataset.state = 'done';
  };

  const form = h('form', { class: 'search-form', onsubmit: (event: Event) => { event.preventDefault(); void search(); } },
    h('div', { class: 'row wrap' }, sinceLabel, since, untilLabel, until, textLabel, text),
    h('div', { class: 'row wrap' }, processLabel, proc, instanceLabel, instance, h('button', { type: 'submit' }, 'Search')));
  const el = h('section', { class: 'card', id: 'log-search', 'aria-labelledby': 'log-search-title' },
    h('h2', { id: 'log-search-title' }, 'Search stored logs'),
    form,
    h('p', { class: 'hint' }, 'Since and until: a duration back from now (30m, 2h, 3d) or a date and time. Router lines are process "router".'),
    state, out);
  return { el };
}
