// Routes a push's refs when its app has review apps on: the deploy branch (and tags) go to the deploy
// pipeline as before; every other branch is deployed to its review app (made on its first push), and a
// deleted branch destroys its review app. With review apps off, pushes go through untouched.
import type { PushEvent, PushHandler, RefUpdate } from '../git/types.ts';
import { ZERO_SHA } from '../git/protocol.ts';
import type { AppRow, AppsStore } from '../state/apps-store.ts';
import type { ReviewsStore } from '../state/reviews-store.ts';
import type { ReviewApps } from './review-apps.ts';
import { branchOfRef, isGitBranchName } from './review-names.ts';

export interface ReviewPushDeps {
  apps: AppsStore;
  reviews: ReviewsStore;
  reviewApps: ReviewApps;
  appUrl: (app: string) => string;
}

/** The branch a ref update makes a review app of, or null when the ref is no review branch of `app`. */
export function reviewBranch(app: Pick<AppRow, 'deployBranch'>, ref: string): string | null {
  const branch = branchOfRef(ref);
  return branch === null || branch === app.deployBranch ? null : branch;
}

/** Whether the git layer may let `ref` of `app` be deleted: only review branches of an app with review apps on. */
export function mayDeleteRef(deps: Pick<ReviewPushDeps, 'apps' | 'reviews'>, appName: string, ref: string): boolean {
  const app = deps.apps.find(appName);
  return !!app && !!deps.reviews.settings(app.id) && reviewBranch(app, ref) !== null;
}

export function withReviewApps(deps: ReviewPushDeps, deploy: PushHandler): PushHandler {
  return async (push) => {
    const app = deps.apps.get(push.app);
    const of = deps.reviews.reviewOf(app.id);
    if (of) {
      push.say(`${app.name} is a review app: push branch ${of.branch} to its parent's git remote instead.`);
      return false;
    }
    if (!deps.reviews.settings(app.id)) return deploy(push);
    const own = push.updates.filter((u) => reviewBranch(app, u.ref) === null);
    const branches = push.updates.filter((u) => reviewBranch(app, u.ref) !== null);
    let ok = own.length === 0 || await deploy({ ...push, updates: own });
    for (const update of branches) {
      if (!ok) break;
      ok = await reviewUpdate(deps, deploy, push, app, update);
    }
    return ok;
  };
}

async function reviewUpdate(deps: ReviewPushDeps, deploy: PushHandler, push: PushEvent, parent: AppRow, update: RefUpdate): Promise<boolean> {
  const branch = reviewBranch(parent, update.ref)!;
  if (!isGitBranchName(branch)) {
    push.say(`Push rejected: ${JSON.stringify(branch)} is not a branch name review apps accept (git's rules, and no leading dash).`);
    return false;
  }
  if (ZERO_SHA.test(update.newSha)) {
    const destroyed = await deps.reviewApps.destroyBranch(parent, branch, push.user);
    push.say(destroyed ? `-----> Destroyed review app ${destroyed} with branch ${branch}` : `Deleted branch ${branch} (it had no review app).`);
    return true;
  }
  let review: AppRow;
  try {
    review = await deps.reviewApps.forPush(parent, branch, push.user, push.say);
  } catch (err) {
    push.say(`!     Push rejected: ${(err as Error).message}`);
    return false;
  }
  push.say(`-----> Deploying branch ${branch} to review app ${review.name}`);
  const ok = await deploy({ ...push, app: review.name, updates: [update] });
  deps.reviewApps.pushed(review);
  if (ok) push.say(`-----> Review app ${review.name}: ${deps.appUrl(review.name)}`);
  return ok;
}
