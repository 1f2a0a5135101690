// An add-on on the cluster never moves without its data: when the node holding it is lost, the service is down
// and stays there. This watch reports such nodes as hosts down to the alert engine (host_down rules fire, naming
// the node and its add-ons) and as up again once the node is back.

/** The host name an alert shows for a lost node: the node and the add-ons waiting for it. */
export const lostNodeName = (node: string, addons: string[]): string => `k3s node ${node} (add-ons: ${addons.join(', ')})`;

/** What to report, from the names reported last time and the nodes lost now. */
export function nodeAlertChanges(reported: Set<string>, lost: Map<string, string[]>): { down: string[]; up: string[] } {
  const now = new Set([...lost].map(([node, addons]) => lostNodeName(node, addons)));
  return { down: [...now].filter((n) => !reported.has(n)), up: [...reported].filter((n) => !now.has(n)) };
}

export interface NodeWatchOptions {
  lostNodes: () => Promise<Map<string, string[]>>;
  hostDown: (name: string) => void;
  hostUp: (name: string) => void;
  log: (line: string) => void;
  intervalMs?: number;
}

/** Checks every interval (30 s by default); returns stop. */
export function watchAddonNodes(opts: NodeWatchOptions): () => void {
  const reported = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  const tick = async () => {
    try {
      const { down, up } = nodeAlertChanges(reported, await opts.lostNodes());
      for (const name of up) { reported.delete(name); opts.hostUp(name); }
      for (const name of down) {
        reported.add(name);
        opts.hostDown(name);
        opts.log(`add-ons: ${name} is lost; its services are down and wait for it (they never move without their data)`);
      }
    } catch (err) {
      opts.log(`add-ons: checking the nodes of add-ons failed: ${(err as Error).message}`);
    }
    if (timer) timer = setTimeout(tick, opts.intervalMs ?? 30_000).unref();
  };
  timer = setTimeout(tick, opts.intervalMs ?? 30_000).unref();
  return () => { if (timer) clearTimeout(timer); timer = null; };
}
