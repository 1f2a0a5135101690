// Where a new instance runs. The rule:
//   1. Only healthy hosts take new instances: up (answering heartbeats) and not draining.
//   2. A host must have room: its memory (the engine's MemTotal) minus the memory limits of the Berth
//      instances already on it must cover the new instance's limit (instances without a limit reserve 0).
//   3. Spread: the host with the fewest instances of the same app and release wins, so no host gets a
//      second one while another healthy host with room has none.
//   4. Ties: the host with the fewest Berth instances of any app, then the most free memory, then the
//      name (so the choice is stable and tests can predict it).
// No host fits: null (the caller fails the start with the reason).

export interface HostLoad {
  name: string;
  healthy: boolean;
  /** Total memory of the machine; null: unknown yet (treated as unlimited). */
  memoryMB: number | null;
  /** Memory limits of the Berth instances on it, summed. */
  reservedMB: number;
  /** Berth instances of every app on it. */
  instances: number;
  /** Instances of the app and release being placed. */
  siblings: number;
}

export function freeMemoryMB(host: HostLoad): number {
  return host.memoryMB === null ? Number.POSITIVE_INFINITY : host.memoryMB - host.reservedMB;
}

export function chooseHost(hosts: HostLoad[], memoryMB: number | null): string | null {
  const need = memoryMB ?? 0;
  const candidates = hosts.filter((h) => h.healthy && freeMemoryMB(h) >= need);
  candidates.sort((a, b) =>
    a.siblings - b.siblings
    || a.instances - b.instances
    || descending(freeMemoryMB(a), freeMemoryMB(b))
    || a.name.localeCompare(b.name));
  return candidates[0]?.name ?? null;
}

/** Safe with Infinity (unknown memory), where b - a would give NaN. */
function descending(a: number, b: number): number {
  return a === b ? 0 : a > b ? -1 : 1;
}

/** Why nothing fits, for the error message. */
export function noRoomReason(hosts: HostLoad[], memoryMB: number | null): string {
  const healthy = hosts.filter((h) => h.healthy);
  if (!healthy.length) return 'no healthy host (every host is down or draining)';
  const best = Math.max(...healthy.map(freeMemoryMB));
  return `no healthy host has ${memoryMB ?? 0} MB free (the most any has is ${Math.floor(best)} MB)`;
}
