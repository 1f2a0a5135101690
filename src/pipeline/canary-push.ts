// A push that started a canary (apps:canary) follows it: with steps it waits for the canary's end and reports the
// promotion or the rejection (the analysis's reason) as the push's outcome; without steps it says how to finish it.
import type { Canary } from '../canary/store.ts';
import type { CanaryOutcome } from '../canary/controller.ts';

export interface CanaryFollowing {
  latest(appId: number): Canary | undefined;
  outcome(appId: number, version: number): Promise<CanaryOutcome>;
}

/** Beyond the steps' own time: a canary waiting for its minimum of requests is not followed forever. */
const FOLLOW_SLACK_SEC = 600;

export async function followCanary(canaries: CanaryFollowing, app: { id: number; name: string }, version: number,
  say: (line: string) => void, signal?: AbortSignal): Promise<boolean> {
  const canary = canaries.latest(app.id);
  if (!canary || canary.version !== version) return true;
  if (!canary.plan.steps.length) {
    say(`-----> v${version} runs as a canary: berth releases:promote ${app.name} when it looks right, or berth releases:abort ${app.name}`);
    return true;
  }
  say(`-----> Following the canary v${version} through ${canary.plan.steps.join(', ')} % (every ${canary.plan.everySec} s of healthy analysis)…`);
  const boundMs = (canary.plan.steps.length * canary.plan.everySec + FOLLOW_SLACK_SEC) * 1000;
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), boundMs);
    signal?.addEventListener('abort', () => resolve(null), { once: true });
  });
  const outcome = await Promise.race([canaries.outcome(app.id, version), gaveUp]).finally(() => clearTimeout(timer));
  if (!outcome) {
    say(`       stopped following; the canary goes on (berth releases ${app.name} shows it)`);
    return true;
  }
  if (outcome.state === 'promoted') {
    say(`-----> v${version} promoted: it serves every request`);
    return true;
  }
  say('');
  say(`!     Push rejected: canary v${version} ${outcome.reason ?? 'was aborted'}`);
  say('!     the current release keeps serving; fix the problem and push again.');
  return false;
}
