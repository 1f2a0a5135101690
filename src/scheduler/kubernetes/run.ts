// `berth run` on Kubernetes: a one-off Pod (run-pod.ts) attached to its caller through the Attach API. Two
// attach sessions: one carries the output (and a TTY's resizes), the other Berth's writes to stdin, so closing
// it gives the command end of input (the pod's stdinOnce) while the output keeps coming, as a half-closed
// Docker attach does. The gate holds the command until an echo proved the output session wired: no output is lost.
// Images without /bin/sh run the command as is; their output then comes from the pod's log (stderr merged).
import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { Attach } from '@kubernetes/client-node';
import type { V1ContainerState, V1Pod } from '@kubernetes/client-node';
import type { AttachedRun, AttachedRunRequest, Instance } from '../types.ts';
import { apiMessage, isConflict, isNotFound, unlessMissing, type Cluster } from './client.ts';
import { CONTAINER, LABEL, selectorOf } from './manifests.ts';
import { TerminalOutput, runQuietly } from './exec.ts';
import { instancesFromPods } from './instances.ts';
import { streamGet } from './stream.ts';
import { RUN_INDEX_LABEL, freeRunIndex, gateEcho, gateProbe, runPodFor, runSelector } from './run-pod.ts';
import { holdRunNumber, releaseRunNumber, type RunNumbers } from '../../shared/run-numbers.ts';
import type { NodeSelection } from './node-selection.ts';

export interface RunContext {
  cluster: Cluster;
  namespace: string;
  owner: string;
  /** run.N numbers handed out whose pod may not exist yet, per app (the scheduler's own). */
  runNumbers: RunNumbers;
  /** The nodes app pods may run on (node-selection.ts). */
  selection?: NodeSelection;
}

const POLL_MS = 250;
/** How often a run's pod is read while its output still flows. */
const IDLE_POLL_MS = 2000;
/** Scheduling and pulling the image, before the command's own time limit counts. */
const START_BUDGET_MS = 120_000;
/** A probe line every this often until the gate's echo comes back; at most GATE_BUDGET_MS in all. */
const PROBE_EVERY_MS = 300;
const GATE_BUDGET_MS = 20_000;
/** How long the output may trail the exit before the run counts as finished anyway. */
const OUTPUT_GRACE_MS = 5000;
const STUCK = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName']);

type Ws = Awaited<ReturnType<Attach['attach']>>;
/** A run's pod by name and uid: reads and deletes never reach another pod that took the name since. */
interface PodRef { name: string; uid: string }

export async function startRun(ctx: RunContext, req: AttachedRunRequest, image: string): Promise<AttachedRun> {
  const index = await claimRunNumber(ctx, req.app);
  try {
    let pod = await createRunPod(ctx, req, image, index, true);
    let gated = true;
    let state = await waitForStart(ctx, pod);
    if (!state.running && lacksShell(state)) {
      // No /bin/sh for the gate: run.N again, running the command as is.
      await deletePod(ctx, pod, 0);
      pod = await createRunPod(ctx, req, image, index, false);
      gated = false;
      state = await waitForStart(ctx, pod);
    }
    try {
      if (gated && !state.running) throw new Error(`the one-off could not start: ${state.terminated?.reason ?? ''} ${state.terminated?.message ?? ''}`.trim());
      return await attach(ctx, req, pod, `run.${index}`, gated);
    } catch (err) {
      await deletePod(ctx, pod, 0);
      throw err;
    }
  } finally {
    releaseRunNumber(ctx.runNumbers, req.app, index); // its pod's label holds the number from here on
  }
}

/** The app's `berth run` one-offs as run.N (their own number, not their age). */
export async function listRuns(ctx: RunContext, app: string): Promise<Instance[]> {
  const pods = (await ctx.cluster.core.listNamespacedPod({ namespace: ctx.namespace, labelSelector: runSelector(ctx.owner, app) })).items;
  const indexOf = new Map(pods.map((p) => [p.metadata!.name!, Number(p.metadata?.labels?.[RUN_INDEX_LABEL]) || 0]));
  return instancesFromPods(pods).map((i) => ({ ...i, index: indexOf.get(i.id) ?? i.index }));
}

/** At start: attached one-offs and release-phase Jobs a stopped Berth left; nobody is attached to them now. */
export async function removeLeftoverRuns(ctx: RunContext): Promise<string[]> {
  const { core, batch } = ctx.cluster;
  const pods = (await core.listNamespacedPod({ namespace: ctx.namespace, labelSelector: runSelector(ctx.owner) })).items;
  const jobs = (await batch.listNamespacedJob({ namespace: ctx.namespace, labelSelector: selectorOf(ctx.owner, undefined, { [LABEL.oneoff]: '1' }) })).items;
  for (const pod of pods) await deletePod(ctx, { name: pod.metadata!.name!, uid: pod.metadata!.uid! }, 0);
  for (const job of jobs) await unlessMissing(() => batch.deleteNamespacedJob({ name: job.metadata!.name!, namespace: ctx.namespace, propagationPolicy: 'Background' }));
  return [...pods.map((p) => `pod/${p.metadata!.name}`), ...jobs.map((j) => `job/${j.metadata!.name}`)];
}

/** The app's one-offs, gone at once (the app is destroyed or moved). */
export async function removeRuns(ctx: RunContext, app: string): Promise<void> {
  await ctx.cluster.core.deleteCollectionNamespacedPod({ namespace: ctx.namespace, labelSelector: runSelector(ctx.owner, app), gracePeriodSeconds: 0 });
}

/**
 * run.N, N the lowest number no live run of the app holds (numbers being handed out count too). Pods get a
 * name of their own: a pod deleted a moment ago may still hold its old name on the node, where an attach by
 * that name could reach it instead of the new one.
 */
async function claimRunNumber(ctx: RunContext, app: string): Promise<number> {
  const live = (await listRuns(ctx, app)).filter((i) => i.state !== 'removing').map((i) => i.index);
  const index = freeRunIndex([...live, ...(ctx.runNumbers.get(app) ?? [])]);
  holdRunNumber(ctx.runNumbers, app, index);
  return index;
}

async function createRunPod(ctx: RunContext, req: AttachedRunRequest, image: string, index: number, gated: boolean): Promise<PodRef> {
  const body = runPodFor(req, { index, suffix: randomBytes(3).toString('hex'), owner: ctx.owner, image, gated, selection: ctx.selection });
  try {
    const created = await ctx.cluster.core.createNamespacedPod({ namespace: ctx.namespace, body });
    return { name: created.metadata!.name!, uid: created.metadata!.uid! };
  } catch (err) {
    throw new Error(`the cluster refused the one-off: ${apiMessage(err)}`);
  }
}

/** The container's state once it runs or ended; throws when it cannot start (image not pulled, pod gone). */
async function waitForStart(ctx: RunContext, pod: PodRef): Promise<V1ContainerState> {
  const deadline = Date.now() + START_BUDGET_MS;
  while (Date.now() < deadline) {
    const current = await readPod(ctx, pod);
    if (!current) throw new Error('the one-off was removed before it started');
    const state = containerState(current);
    const waiting = state?.waiting?.reason;
    if (waiting && STUCK.has(waiting)) {
      await deletePod(ctx, pod, 0);
      throw new Error(`the one-off could not start: ${waiting}: ${state?.waiting?.message ?? ''}`.trim());
    }
    if (state?.running || state?.terminated) return state;
    if (current.status?.phase === 'Failed') throw new Error(`the one-off ended before it started: ${current.status.reason ?? 'failed'}`);
    await sleep(POLL_MS);
  }
  await deletePod(ctx, pod, 0);
  throw new Error(`the one-off did not start within ${START_BUDGET_MS / 1000} s`);
}

/** The gate's shell is missing from the image (the runtime could not start /bin/sh). */
function lacksShell(state: V1ContainerState): boolean {
  const message = `${state.terminated?.reason ?? ''} ${state.terminated?.message ?? ''}`;
  return /StartError|ContainerCannotRun/.test(message) && /\/bin\/sh/.test(message);
}

async function attach(ctx: RunContext, req: AttachedRunRequest, pod: PodRef, name: string, gated: boolean): Promise<AttachedRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const terminal = new TerminalOutput(req.cols, req.rows);
  const errors = new PassThrough();
  const stdin = new PassThrough();
  const heldOpen = new PassThrough();
  const attacher = new Attach(ctx.cluster.config);
  const sockets: Ws[] = [];
  let pid: number | null = null;
  let logs: AbortController | null = null;
  let outputDone: Promise<unknown> = Promise.resolve();
  try {
    // The output session asks for stdin too and never ends it: one without stdin would end the command's
    // input at once (stdinOnce) or, on a TTY, drop its own output.
    const output = await attacher.attach(ctx.namespace, pod.name, CONTAINER, terminal, req.tty ? null : errors, heldOpen, req.tty);
    sockets.push(output);
    outputDone = closed(output);
    sockets.push(await attacher.attach(ctx.namespace, pod.name, CONTAINER, null, null, stdin, req.tty));
    if (gated) {
      errors.pipe(stderr, { end: false });
      pid = await openGate(terminal, stdin, stdout, req.tty);
      terminal.pipe(stdout, { end: false });
    }
  } catch (err) {
    for (const socket of sockets) socket.close();
    // Without the gate the command may be over already, and nothing to attach to: its log has it all.
    if (gated) throw err;
  }
  if (!gated) {
    terminal.resume(); // the log has the output from the start; the attach only carries the TTY's size
    errors.resume();
    logs = new AbortController();
    outputDone = followLog(ctx, pod, stdout, logs.signal);
  }

  const exited = (async () => {
    try {
      const code = await exitCode(ctx, pod, req.timeoutSec, outputDone);
      await Promise.race([outputDone, sleep(OUTPUT_GRACE_MS)]);
      return code;
    } finally {
      logs?.abort();
      heldOpen.destroy();
      for (const socket of sockets) socket.close();
      stdout.end();
      stderr.end();
      await deletePod(ctx, pod, 0);
    }
  })();

  // On a TTY, typed input rides the output session, as the resizes do: on one websocket they stay in order
  // (on the other session, input typed after a resize could reach the command before the new size).
  const input = req.tty ? heldOpen : stdin;
  return {
    name,
    stdout,
    stderr,
    exited,
    write: (data) => { if (!input.writableEnded && !input.destroyed) input.write(data); },
    endInput: () => { if (!stdin.writableEnded) stdin.end(); },
    resize: async (cols, rows) => {
      if (!req.tty) return;
      terminal.setSize(cols, rows);
      await new Promise((resolve) => setImmediate(resolve)); // the size frame goes out before input written next
    },
    signal: async (signal) => {
      // The gate's PID is the command's: it gets the signal; without the gate only the pod's end can stop it.
      if (signal === 'SIGKILL' || pid === null) return deletePod(ctx, pod, signal === 'SIGKILL' ? 0 : undefined);
      await runQuietly(ctx.cluster, ctx.namespace, pod.name, ['/bin/sh', '-c', 'kill -s "$1" "$2"', 'berth-signal', signal.slice(3), String(pid)]);
    },
  };
}

/**
 * Probes the gate until its echo comes back on the output, then lets the command go (a line "go"; on a TTY
 * ^D, which the terminal does not echo). What came before the echo is the gate's, not the command's.
 */
async function openGate(output: Readable, stdin: PassThrough, stdout: PassThrough, tty: boolean): Promise<number> {
  const nonce = randomBytes(6).toString('hex');
  let seen = Buffer.alloc(0);
  const collect = (chunk: Buffer) => { seen = Buffer.concat([seen, chunk]); };
  output.on('data', collect);
  try {
    const deadline = Date.now() + GATE_BUDGET_MS;
    for (let k = 1; Date.now() < deadline; k++) {
      const probe = gateProbe(nonce, k);
      stdin.write(`${probe}\n`);
      const waitUntil = Math.min(deadline, Date.now() + PROBE_EVERY_MS);
      while (Date.now() < waitUntil) {
        // latin1: one character per byte, so the echo's end is a byte offset.
        const echo = gateEcho(seen.toString('latin1'), probe);
        if (echo) {
          output.pause();
          stdin.write(tty ? '\x04' : 'go\n');
          stdout.write(seen.subarray(echo.end));
          return echo.pid;
        }
        await sleep(20);
      }
    }
    throw new Error(`the one-off's output could not be attached within ${GATE_BUDGET_MS / 1000} s`);
  } finally {
    output.off('data', collect);
  }
}

/**
 * The command's exit code: its container's, 137 when it went with its pod (ps:stop, time limit) without one.
 * Asked for now and then while the output flows, and often once it ended (the container stopped).
 */
async function exitCode(ctx: RunContext, pod: PodRef, timeoutSec: number, outputDone: Promise<unknown>): Promise<number> {
  const deadline = Date.now() + (timeoutSec + 60) * 1000;
  let outputEnded = false;
  void outputDone.then(() => { outputEnded = true; });
  const pause = () => Promise.race([sleep(outputEnded ? POLL_MS : IDLE_POLL_MS), outputDone]);
  while (Date.now() < deadline) {
    let current: V1Pod | null;
    try {
      current = await readPod(ctx, pod);
    } catch {
      await pause(); // the API server busy for a moment: the run goes on
      continue;
    }
    if (!current) return 137;
    const terminated = containerState(current)?.terminated;
    if (terminated) return terminated.exitCode;
    if (current.status?.phase === 'Failed' || current.status?.phase === 'Succeeded') return 137;
    await pause();
  }
  return 137;
}

async function followLog(ctx: RunContext, pod: PodRef, into: PassThrough, signal: AbortSignal): Promise<void> {
  try {
    const stream = await streamGet(ctx.cluster, `/api/v1/namespaces/${ctx.namespace}/pods/${pod.name}/log`, { container: CONTAINER, follow: 'true' }, signal);
    stream.on('error', () => {});
    for await (const chunk of stream) into.write(chunk);
  } catch (err) {
    if (!signal.aborted) into.write(`(the one-off's output could not be read: ${apiMessage(err)})\n`);
  }
}

function containerState(pod: V1Pod): V1ContainerState | undefined {
  return pod.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state;
}

/** The run's own pod; null once it is gone (or another run's pod holds its name now). */
async function readPod(ctx: RunContext, pod: PodRef): Promise<V1Pod | null> {
  const current = await unlessMissing(() => ctx.cluster.core.readNamespacedPod({ name: pod.name, namespace: ctx.namespace }));
  return current?.metadata?.uid === pod.uid ? current : null;
}

/** Deletes the run's own pod only (the uid precondition): never a later run's pod of the same name. */
async function deletePod(ctx: RunContext, pod: PodRef, gracePeriodSeconds?: number): Promise<void> {
  try {
    await ctx.cluster.core.deleteNamespacedPod({ name: pod.name, namespace: ctx.namespace, gracePeriodSeconds, body: { preconditions: { uid: pod.uid } } });
  } catch (err) {
    if (!isNotFound(err) && !isConflict(err)) throw err;
  }
}

function closed(socket: Ws): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState === socket.CLOSED) return resolve();
    socket.addEventListener('close', () => resolve());
    socket.addEventListener('error', () => resolve());
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
