// A new pod often gets the IP address of a pod deleted shortly before. The CNI bridge plugin does not announce
// the new pod's MAC address (containernetworking/plugins#858), so this machine's neighbor (ARP) entry for the
// address still names the old pod's, and every connection from here to the new pod (Berth's health check, the
// kubelet's probe, Caddy) goes nowhere until the kernel gives up on the entry: 5 s in DELAY, then 3 unanswered
// probes, about 8 s. Forgetting the entry when the pod shows up makes the first packet ask for the address anew.
// Only for routes to pods on this machine's pod network (pod-addresses.ts); needs root, as Berth runs.
import { execFile } from 'node:child_process';

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const TIMEOUT_MS = 2000;

let unavailable: string | null = null;

/** Drops this machine's neighbor entry for the address (none there is fine); says once why it cannot, then stops trying. */
export function forgetNeighbor(address: string, log: (line: string) => void): Promise<void> {
  if (unavailable !== null || !IPV4.test(address)) return Promise.resolve();
  return new Promise((resolve) => {
    execFile('ip', ['-4', 'neigh', 'flush', 'to', address], { timeout: TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err) {
        unavailable = (stderr || err.message).trim();
        log(`k3s: cannot drop stale neighbor entries of new pods (ip neigh flush: ${unavailable}); a pod on a reused address may take ~8 s to answer`);
      }
      resolve();
    });
  });
}
