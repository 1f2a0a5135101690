// Review apps: an app's branches (other than its deploy branch) each get an app of their own, made on the
// first push with a copy of the parent's config (minus --no-review vars), scheduler and formation, and
// destroyed when the branch is deleted, when its time to live runs out, or with the parent.
import type { AppEvents } from '../lifecycle/app-events.ts';
import type { Deployer } from '../releases/deployer.ts';
import type { AppRow, AppsStore } from '../state/apps-store.ts';
import type { ReviewAppRow, ReviewsStore } from '../state/reviews-store.ts';
import type { AuditStore } from '../state/audit-store.ts';
import { BerthError, conflict } from '../shared/errors.ts';
import { reviewAppName, reviewExpiresAt, reviewParentProblem } from './review-names.ts';

export interface ReviewAppsDeps {
  apps: AppsStore;
  reviews: ReviewsStore;
  deployer: Deployer;
  events: AppEvents;
  /** BERTH_MAX_REVIEW_APPS: review apps one app may have at once. */
  maxPerApp: number;
  /** Where review apps made and destroyed by pushes and the sweep are recorded. */
  audit?: Pick<AuditStore, 'record'>;
  log: (line: string) => void;
}

export interface AppReviewView {
  reviews: { ttlSec: number } | null;
  reviewOf: { app: string; branch: string; expiresAt: string | null } | null;
}

/** What a sweep destroys at most, so a backlog is worked off over several sweeps rather than in one burst. */
const SWEEP_BATCH = 5;

export class ReviewApps {
  private readonly deps: ReviewAppsDeps;
  constructor(deps: ReviewAppsDeps) {
    this.deps = deps;
    // Destroying the parent destroys its review apps.
    deps.events.on('destroyed', async ({ appId }) => {
      for (const child of deps.reviews.children(appId)) await this.destroyQuietly(child, `its parent was destroyed`);
    });
  }

  /** apps:reviews APP on: refused for review apps themselves and for names that leave no room. */
  enable(parent: AppRow, ttlSec: number): void {
    const of = this.deps.reviews.reviewOf(parent.id);
    if (of) throw new BerthError(422, 'review_app', `${parent.name} is a review app: only its parent can have review apps.`);
    const problem = reviewParentProblem(parent.name);
    if (problem) throw new BerthError(422, 'invalid_review_parent', problem);
    this.deps.reviews.enable(parent.id, ttlSec);
  }

  /** apps:reviews APP off: its review apps are destroyed; returns their names. */
  async disable(parent: AppRow): Promise<string[]> {
    this.deps.reviews.disable(parent.id);
    const children = this.deps.reviews.children(parent.id);
    for (const child of children) await this.deps.deployer.destroy(child.name);
    return children.map((c) => c.name);
  }

  /** The app whose repository holds a review app's source: its parent's (any other app: itself). */
  repositoryOwner(name: string): string {
    const app = this.deps.apps.find(name);
    const of = app && this.deps.reviews.reviewOf(app.id);
    return (of && this.parentName(of.parentId)) || name;
  }

  /**
   * The review app for `branch` of `parent`, made now if it has none: a copy of the parent's config (minus
   * --no-review vars), on its scheduler with its formation. Refused when the cap is reached or the name is
   * another app's. Serialised per parent, so two first pushes cannot both pass the cap or make the app twice.
   */
  forPush(parent: AppRow, branch: string, user: string, say: (line: string) => void): Promise<AppRow> {
    return this.deps.deployer.locks.run(`review apps of #${parent.id}`, async () => {
      const existing = this.deps.reviews.forBranch(parent.id, branch);
      if (existing) {
        this.deps.reviews.touch(existing.appId);
        return this.deps.apps.get(existing.name);
      }
      const problem = reviewParentProblem(parent.name);
      if (problem) throw new BerthError(422, 'invalid_review_parent', problem);
      const siblings = this.deps.reviews.children(parent.id);
      const name = reviewAppName(parent.name, branch);
      const taken = this.deps.apps.find(name);
      if (taken) {
        const sibling = siblings.find((s) => s.appId === taken.id);
        throw conflict(sibling
          ? `Branch ${branch} would be the review app ${name}, which is already branch ${sibling.branch}'s: rename one of the branches.`
          : `Branch ${branch} would be the review app ${name}, but an app of that name already exists and is not a review app of ${parent.name}.`);
      }
      if (siblings.length >= this.deps.maxPerApp) {
        throw new BerthError(422, 'too_many_review_apps', `${parent.name} already has ${siblings.length} review apps, the most allowed ` +
          `(BERTH_MAX_REVIEW_APPS=${this.deps.maxPerApp}): delete a branch you are done with (git push REMOTE :BRANCH) and push again.`);
      }
      return this.create(parent, name, branch, user, say);
    });
  }

  /** A push to the review app's branch finished: its time to live counts from now (a long build does not eat it). */
  pushed(review: AppRow): void {
    this.deps.reviews.touch(review.id);
  }

  /** `git push REMOTE :branch`: the branch's review app goes with it; returns its name, or null when it had none. */
  async destroyBranch(parent: AppRow, branch: string, user: string): Promise<string | null> {
    const review = this.deps.reviews.forBranch(parent.id, branch);
    if (!review) return null;
    await this.deps.deployer.destroy(review.name);
    this.deps.audit?.record({ actor: user, action: 'review app destroy', app: review.name, target: parent.name, status: 200, detail: `branch ${branch} deleted` });
    return review.name;
  }

  /** Destroys review apps past their time to live (and any left without a parent or with reviews off), a batch at a time. */
  async sweep(nowMs = Date.now()): Promise<string[]> {
    const due = this.deps.reviews.all().filter((review) => {
      const settings = this.deps.reviews.settings(review.parentId);
      return !settings || reviewExpiresAt(review.lastPushAt, settings.ttlSec).getTime() <= nowMs;
    }).slice(0, SWEEP_BATCH);
    const destroyed: string[] = [];
    for (const review of due) {
      if (await this.destroyQuietly(review, 'its time to live ran out since the last push')) destroyed.push(review.name);
    }
    return destroyed;
  }

  /** Sweeps every `intervalMs` (a sweep still running is not started twice); stop() ends it. */
  startSweeping(intervalMs: number): { stop(): void } {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.sweep().catch((err) => this.deps.log(`review apps sweep failed: ${(err as Error).message}`)).finally(() => { running = false; });
    }, intervalMs);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  /** The app's review apps, oldest push first. */
  children(parent: AppRow): { name: string; branch: string; expiresAt: string | null }[] {
    const settings = this.deps.reviews.settings(parent.id);
    return this.deps.reviews.children(parent.id).map((child) => ({
      name: child.name, branch: child.branch,
      expiresAt: settings ? reviewExpiresAt(child.lastPushAt, settings.ttlSec).toISOString() : null,
    }));
  }

  /** The app's review setting and, for a review app, what it was made from (apps:info, the console). */
  describe(app: AppRow): AppReviewView {
    return this.describer()(app);
  }

  /** describe() for many apps at once (the apps list): three queries in all, not a few per app. */
  describer(): (app: AppRow) => AppReviewView {
    const settings = new Map(this.deps.reviews.allSettings().map((row) => [row.appId, row]));
    const reviewOf = new Map(this.deps.reviews.all().map((row) => [row.appId, row]));
    const names = new Map(this.deps.apps.list().map((row) => [row.id, row.name]));
    return (app) => {
      const own = settings.get(app.id);
      const of = reviewOf.get(app.id);
      const parentSettings = of && settings.get(of.parentId);
      return {
        reviews: own ? { ttlSec: own.ttlSec } : null,
        reviewOf: of ? {
          app: names.get(of.parentId) ?? '(destroyed)', branch: of.branch,
          expiresAt: parentSettings ? reviewExpiresAt(of.lastPushAt, parentSettings.ttlSec).toISOString() : null,
        } : null,
      };
    };
  }

  private async create(parent: AppRow, name: string, branch: string, user: string, say: (line: string) => void): Promise<AppRow> {
    say(`-----> Creating review app ${name} for branch ${branch}`);
    const app = await this.deps.deployer.create(name, parent.scheduler);
    try {
      this.deps.reviews.add(app.id, parent.id, branch);
      // Its deploy branch is the parent's branch: the push pipeline deploys exactly that ref to it.
      this.deps.apps.update(app.id, { deployBranch: branch });
      const excluded = new Set(this.deps.apps.noReviewKeys(parent.id));
      const config = Object.fromEntries(Object.entries(this.deps.apps.config(parent.id)).filter(([key]) => !excluded.has(key)));
      this.deps.apps.replaceConfig(app.id, config);
      this.deps.apps.replaceFormation(app.id, this.deps.apps.formation(parent.id).map((f) => ({ ...f, generation: 0 })));
      if (excluded.size) say(`       config copied from ${parent.name} without ${[...excluded].join(', ')} (--no-review)`);
    } catch (err) {
      await this.deps.deployer.destroy(name).catch(() => {});
      throw err;
    }
    this.deps.log(`review app ${name} created for ${parent.name} branch ${branch}`);
    this.deps.audit?.record({ actor: user, action: 'review app create', app: name, target: parent.name, status: 201, detail: `branch ${branch}` });
    return this.deps.apps.get(name);
  }

  private parentName(parentId: number): string | undefined {
    return this.deps.apps.list().find((a) => a.id === parentId)?.name;
  }

  private async destroyQuietly(review: ReviewAppRow, why: string): Promise<boolean> {
    try {
      await this.deps.deployer.destroy(review.name);
      this.deps.log(`review app ${review.name} (branch ${review.branch}) destroyed: ${why}`);
      this.deps.audit?.record({ actor: 'berth', action: 'review app destroy', app: review.name, status: 200, detail: `branch ${review.branch}: ${why}` });
      return true;
    } catch (err) {
      this.deps.log(`review app ${review.name} could not be destroyed (${why}): ${(err as Error).message}`);
      return false;
    }
  }
}
