// `berth run` on Kubernetes, decided without talking to the cluster: the one-off's Pod (the release's image
// and Secret, as its Job would have them, plus stdin, a TTY, run.N) and the gate that holds the command back
// until Berth is attached to its output. An attach only sees what is printed after it connected, and a pod's
// container starts on its own: without the gate, `echo hi; exit 3` would often be over before anyone listened.
import type { V1Pod } from '@kubernetes/client-node';
import type { AttachedRunRequest } from '../types.ts';
import { LABEL, jobFor, literal } from './manifests.ts';
import type { NodeSelection } from './node-selection.ts';

/** run.N's N on its pod (pods of a process type are otherwise numbered by age). */
export const RUN_INDEX_LABEL = 'berth.run-index';
export const RUN_PROCESS = 'run';

/** The pod of run.N: the suffix makes each run's pod its own, even when N is handed out again. */
export const runPodName = (app: string, index: number, suffix: string) => `${app}-run-${index}-${suffix}`;

/** The selector of one installation's attached one-offs, optionally of one app. */
export function runSelector(owner: string, app?: string): string {
  const labels: Record<string, string> = { [LABEL.owner]: owner, ...(app === undefined ? {} : { [LABEL.app]: app }), [LABEL.oneoff]: '1', [LABEL.process]: RUN_PROCESS };
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
}

/** The lowest N at or above `from` that no listed run holds. */
export function freeRunIndex(taken: Iterable<number>, from = 1): number {
  const held = new Set(taken);
  let index = from;
  while (held.has(index)) index++;
  return index;
}

/**
 * The gate (POSIX sh; $1 $2: the TTY's rows and columns, then the command as argv, never re-parsed by a
 * shell). It echoes each line Berth sends, with its own PID, until "go" (or end of input: ^D on a TTY), then
 * becomes the command: the PID is the command's, which signals go to. Berth sends a probe line until an echo
 * comes back on the attached output, so the output is known to be wired before the command runs.
 */
export const GATE_SCRIPT = [
  '[ -t 0 ] && stty rows "$1" cols "$2" 2>/dev/null',
  'shift 2',
  'while IFS= read -r line && [ "$line" != go ]; do printf \'ok%s %s\\n\' "$$" "$line"; done',
  'exec "$@"',
].join('; ');

export interface RunPodOptions {
  index: number;
  /** Letters and digits. */
  suffix: string;
  owner: string;
  image: string;
  /** Without /bin/sh in the image the command runs as is (output then comes from the pod's log). */
  gated: boolean;
  /** The nodes app pods may run on (node-selection.ts). */
  selection?: NodeSelection;
}

export function runPodFor(req: AttachedRunRequest, opts: RunPodOptions): V1Pod {
  const env = { ...req.env, DYNO: `run.${opts.index}`, BERTH_PROCESS: RUN_PROCESS, ...(req.tty ? { TERM: 'xterm-256color' } : {}) };
  // The Job's pod template: the same image, Secret, environment, limits and confinement as any one-off.
  const template = jobFor({ ...req, env }, opts.image, runPodName(req.app, opts.index, opts.suffix), opts.owner, opts.selection).spec!.template;
  const container = template.spec!.containers[0];
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: runPodName(req.app, opts.index, opts.suffix),
      labels: { ...template.metadata!.labels, [LABEL.process]: RUN_PROCESS, [RUN_INDEX_LABEL]: String(opts.index) },
    },
    spec: {
      ...template.spec!,
      // The kubelet kills it at its time limit (counted from the pod's start).
      activeDeadlineSeconds: req.timeoutSec,
      containers: [{
        ...container,
        command: (opts.gated ? ['/bin/sh', '-c', GATE_SCRIPT, 'berth-run', String(req.rows), String(req.cols), ...req.command] : req.command).map(literal),
        // stdinOnce: when Berth's stdin attach closes, the command reads end of input (a pipe's EOF).
        stdin: true, stdinOnce: true, tty: req.tty,
      }],
    },
  };
}


/** Probe k of a run: letters, digits and dashes only (it goes into a regular expression). */
export const gateProbe = (nonce: string, k: number) => `berth-gate-${nonce}-${k}`;

/**
 * Where the gate's echo of `probe` ("ok<pid> <probe>", after a TTY's own echo of the line) ends in `text`,
 * and the command's PID; null while it has not come.
 */
export function gateEcho(text: string, probe: string): { pid: number; end: number } | null {
  const match = new RegExp(`ok(\\d+) ${probe}\\r?\\n`).exec(text);
  return match ? { pid: Number(match[1]), end: match.index + match[0].length } : null;
}
