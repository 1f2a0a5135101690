// Server-sent events from /api/v1/events: pages subscribe while they are shown; EventSource reconnects by itself.
export type LiveHandler = (type: string, data: any) => void;
export interface LiveEvents { on(handler: LiveHandler, signal: AbortSignal): void; close(): void }

export function liveEvents(): LiveEvents {
  const handlers = new Set<LiveHandler>();
  const source = new EventSource('/api/v1/events');
  for (const type of ['app', 'app-deleted', 'instance']) {
    source.addEventListener(type, (event) => {
      const data = JSON.parse((event as MessageEvent<string>).data);
      for (const handler of handlers) handler(type, data);
    });
  }
  source.addEventListener('hello', () => { document.body.dataset.live = 'connected'; });
  return {
    on: (handler, signal) => {
      handlers.add(handler);
      signal.addEventListener('abort', () => handlers.delete(handler), { once: true });
    },
    close: () => source.close(),
  };
}
