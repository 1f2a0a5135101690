// Docker's event stream, narrowed to this installation's instances: starts, exits, kills, OOMs, removals.
import readline from 'node:readline';
import type Docker from 'dockerode';
import type { RuntimeEvent } from '../types.ts';
import { identityFromLabels, managedLabelFilter } from './labels.ts';

const ACTIONS: RuntimeEvent['action'][] = ['start', 'die', 'stop', 'kill', 'oom', 'destroy'];

interface EngineEvent {
  Action?: string;
  time?: number;
  timeNano?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

export async function* engineEvents(docker: Docker, owner: string, signal: AbortSignal): AsyncIterable<RuntimeEvent> {
  if (signal.aborted) return;
  const stream = await docker.getEvents({
    filters: { type: ['container'], event: ACTIONS, label: managedLabelFilter(owner) },
  }) as NodeJS.ReadableStream & { destroy(): void };
  const lines = readline.createInterface({ input: stream });
  // Closing the interface too: a destroyed stream never emits 'end', so the line iterator would wait forever.
  const stop = () => { lines.close(); stream.destroy(); };
  signal.addEventListener('abort', stop, { once: true });
  try {
    for await (const line of lines) {
      const event = parse(line);
      if (event) yield event;
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    signal.removeEventListener('abort', stop);
    stream.destroy();
  }
}

function parse(line: string): RuntimeEvent | null {
  let raw: EngineEvent;
  try { raw = JSON.parse(line) as EngineEvent; } catch { return null; }
  const action = raw.Action as RuntimeEvent['action'];
  if (!ACTIONS.includes(action)) return null;
  const attrs = raw.Actor?.Attributes ?? {};
  const ms = raw.timeNano ? Math.floor(raw.timeNano / 1e6) : (raw.time ?? 0) * 1000;
  const exit = attrs.exitCode === undefined ? null : Number(attrs.exitCode);
  return {
    time: new Date(ms || Date.now()).toISOString(),
    ...identityFromLabels(attrs),
    container: attrs.name ?? raw.Actor?.ID ?? '',
    action,
    exitCode: Number.isFinite(exit) ? exit : null,
  };
}
