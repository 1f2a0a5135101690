// A terminal into one running instance: xterm.js over a websocket to the server's docker exec (with a TTY).
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { h, replace } from '../dom.ts';
import type { PageContext } from '../main.ts';

export async function terminalPage(ctx: PageContext, app: string, instance: string): Promise<void> {
  const state = h('span', { class: 'hint', id: 'terminal-state', role: 'status' }, 'connecting…');
  const box = h('div', { class: 'terminal', id: 'terminal' });
  const close = h('button', { type: 'button' }, 'Close');
  replace(ctx.main,
    h('p', {}, h('a', { href: `#/apps/${encodeURIComponent(app)}` }, `← ${app}`)),
    h('h1', {}, `Terminal: ${app} ${instance}`),
    h('div', { class: 'row' }, state, close), box);

  const term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 5000, fontFamily: 'ui-monospace, Menlo, Consolas, monospace' });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  const query = `cols=${term.cols}&rows=${term.rows}`;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/apps/${encodeURIComponent(app)}/ps/${encodeURIComponent(instance)}/terminal?${query}`;
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const send = (msg: object) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg)); };
  (window as unknown as { berthTerminal: unknown }).berthTerminal = { term, ws }; // tests read the screen through this

  ws.onopen = () => { state.textContent = 'connected'; box.dataset.state = 'open'; term.focus(); };
  ws.onmessage = (event) => {
    if (typeof event.data === 'string') {
      const msg = JSON.parse(event.data) as { type: string; message?: string };
      if (msg.type === 'error') term.write(`\r\n${msg.message}\r\n`);
      return;
    }
    term.write(new Uint8Array(event.data as ArrayBuffer));
  };
  ws.onclose = () => { state.textContent = 'closed'; box.dataset.state = 'closed'; };
  term.onData((data) => send({ type: 'input', data }));
  term.onResize(({ cols, rows }) => send({ type: 'resize', cols, rows }));
  const refit = () => fit.fit();
  window.addEventListener('resize', refit);
  close.addEventListener('click', () => ws.close(1000, 'closed by the user'));
  ctx.signal.addEventListener('abort', () => {
    window.removeEventListener('resize', refit);
    ws.close(1000, 'page left');
    term.dispose();
  }, { once: true });
}
