// A tiny DOM builder: h('button', { onclick, class: 'x' }, 'text'). Text is always set as text, never as HTML.
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, unknown>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value as EventListener);
    else if (key === 'value' || key === 'checked') (el as unknown as Record<string, unknown>)[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

export function replace(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

export function ago(iso: string | null): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** A byte count as people read it: KiB below a MiB, MiB below a GiB, GiB above; '—' when unknown. */
export function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (v < 1048576) return `${(v / 1024).toFixed(1)} KiB`;
  return v >= 1073741824 ? `${(v / 1073741824).toFixed(2)} GiB` : `${(v / 1048576).toFixed(1)} MiB`;
}

export function badge(status: string): HTMLSpanElement {
  return h('span', { class: `badge badge-${status}`, 'data-status': status }, status);
}

/** A message line under a form: errors in red, announced to screen readers. */
export function notice(): { el: HTMLParagraphElement; error(text: string): void; info(text: string): void; clear(): void } {
  const el = h('p', { class: 'notice', role: 'status', 'aria-live': 'polite' });
  return {
    el,
    error: (text) => { el.className = 'notice error'; el.textContent = text; },
    info: (text) => { el.className = 'notice'; el.textContent = text; },
    clear: () => { el.textContent = ''; },
  };
}
