// docker-modem rejects with an Error carrying the HTTP statusCode; these helpers name the cases we tolerate.

function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err ? Number(err.statusCode) : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function isNotFound(err: unknown): boolean {
  return statusOf(err) === 404;
}

/** Stopping a container that is already stopped answers 304 (or 409 "is not running" on some versions). */
export function isAlreadyStopped(err: unknown): boolean {
  return statusOf(err) === 304 || /not running/i.test(messageOf(err));
}

/** Two removers racing: the loser gets 409 "removal of container ... is already in progress". */
export function isRemovalInProgress(err: unknown): boolean {
  return statusOf(err) === 409 && /already in progress/i.test(messageOf(err));
}

export function ignoreWhen(predicate: (err: unknown) => boolean): (err: unknown) => void {
  return (err) => {
    if (!predicate(err)) throw err;
  };
}

/**
 * Runs one engine call with a deadline (and the caller's signal, if any). A wedged engine (Docker
 * 20.10 can deadlock in libnetwork under heavy container churn) would otherwise hang the caller forever.
 * The signal is handed to the call so the request is torn down; calls that ignore it are abandoned.
 */
export async function withDeadline<T>(what: string, ms: number, call: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
  const deadline = AbortSignal.timeout(ms);
  const signal = outer ? AbortSignal.any([outer, deadline]) : deadline;
  let stopWatching = () => {};
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(deadline.aborted
      ? new Error(`the Docker engine did not complete ${what} within ${Math.round(ms / 1000)}s`)
      : signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    stopWatching = () => signal.removeEventListener('abort', onAbort);
  });
  const result = call(signal);
  result.catch(() => {}); // if the deadline wins, the call's own rejection is expected and ignored
  try {
    return await Promise.race([result, aborted]);
  } finally {
    stopWatching();
  }
}
