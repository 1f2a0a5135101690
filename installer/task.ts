// The installer's unit of work, like an Ansible task: a check that says whether the host is already in
// the desired state, and an apply that gets it there. The runner makes every run idempotent: a second run
// finds every check true and reports `ok` without applying anything; --check never applies.

export interface RunResult { code: number; stdout: string; stderr: string }

export interface RunOptions {
  /** Fed to the command's stdin (file contents, so they never pass through shell quoting). */
  input?: string;
  /** A non-zero exit is an answer (e.g. `dpkg -s` of a missing package), not a failure. */
  allowFail?: boolean;
}

export interface TaskContext {
  /**
   * Runs a shell command on the host (as root: sudo is added for other SSH users).
   * Throws CommandFailed on a non-zero exit unless allowFail is set.
   */
  run(cmd: string, opts?: RunOptions): Promise<RunResult>;
  host: string;
  vars: Record<string, string>;
  checkOnly: boolean;
}

export interface Task {
  name: string;
  /** true: already in the desired state. Must not change anything (it runs under --check too). */
  check(ctx: TaskContext): Promise<boolean>;
  apply(ctx: TaskContext): Promise<void>;
  /** What the operator can do when the task fails. */
  hint?: string;
}

export type TaskStatus = 'ok' | 'changed' | 'would-change' | 'failed';

export interface TaskReport { task: string; status: TaskStatus; detail?: string }

export interface RunSummary { ok: number; changed: number; wouldChange: number; failed: number; succeeded: boolean }

/** A command that exited non-zero: the runner reports it with its output. */
export class CommandFailed extends Error {
  readonly command: string;
  readonly result: RunResult;

  constructor(command: string, result: RunResult) {
    super(`command exited with ${result.code}: ${command}`);
    this.name = 'CommandFailed';
    this.command = command;
    this.result = result;
  }
}

const OUTPUT_TAIL_CHARS = 4000;

/** Runs the tasks in order; stops at the first failure (later tasks usually depend on earlier ones). */
export async function runTasks(tasks: Task[], ctx: TaskContext, report: (line: TaskReport) => void): Promise<RunSummary> {
  const summary: RunSummary = { ok: 0, changed: 0, wouldChange: 0, failed: 0, succeeded: true };
  for (const task of tasks) {
    try {
      if (await task.check(ctx)) {
        summary.ok++;
        report({ task: task.name, status: 'ok' });
        continue;
      }
      if (ctx.checkOnly) {
        summary.wouldChange++;
        report({ task: task.name, status: 'would-change' });
        continue;
      }
      await task.apply(ctx);
      if (!(await task.check(ctx))) throw new Error('applied, but the check still finds the host not in the desired state');
      summary.changed++;
      report({ task: task.name, status: 'changed' });
    } catch (err) {
      summary.failed++;
      summary.succeeded = false;
      report({ task: task.name, status: 'failed', detail: failureDetail(err, task.hint) });
      break;
    }
  }
  return summary;
}

export function failureDetail(err: unknown, hint?: string): string {
  const lines: string[] = [];
  if (err instanceof CommandFailed) {
    lines.push(`command: ${err.command}`, `exit code: ${err.result.code}`);
    const output = `${err.result.stdout}${err.result.stderr ? `\n${err.result.stderr}` : ''}`.trim();
    if (output) lines.push('output:', tail(output));
  } else {
    lines.push(`error: ${(err as Error)?.message ?? String(err)}`);
  }
  if (hint) lines.push(`hint: ${hint}`);
  return lines.join('\n');
}

function tail(text: string): string {
  return text.length <= OUTPUT_TAIL_CHARS ? text : `...${text.slice(-OUTPUT_TAIL_CHARS)}`;
}
