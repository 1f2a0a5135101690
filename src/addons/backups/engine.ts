// Add-on backups: capture (the kind's dump streamed from the service into the store), list, download (the
// stored bytes, re-hashed on the way out), restore (kind and checksum checked before the service is touched),
// daily schedules and retention. Dumps and restores run through ServiceRuntime.exec and the bytes through a
// BackupStore, both streamed: the server never holds a dump in memory, whatever its size.
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Transform, pipeline, type Readable } from 'node:stream';
import type { AddonsStore, AddonRow } from '../../state/addons-store.ts';
import type { AppsStore } from '../../state/apps-store.ts';
import type { BackupsStore, BackupRow } from '../../state/backups-store.ts';
import type { AddonChange, Backup, BackupList, BackupRestore, BackupSchedule } from '../../wire/types.ts';
import { BerthError, badRequest, conflict, notFound } from '../../shared/errors.ts';
import { checkAddonName, type AddonKind } from '../kinds.ts';
import type { ServiceRuntime } from '../service-runtime.ts';
import type { Caller } from '../service.ts';
import { backupKey, type BackupStore } from './store.ts';
import { LocalBackupStore } from './local-store.ts';
import { checkRestoreKind, dumpCommand, dumpKind, restoreCommand, SIGNATURE_BYTES } from './commands.ts';
import { checkBackupId, isDue, nextRun, parseAt, parseKeep, retentionPlan } from './schedule.ts';

export interface BackupsDeps {
  backups: BackupsStore;
  objects: BackupStore;
  addons: AddonsStore;
  apps: AppsStore;
  services: ServiceRuntime;
  /** addons:create, for a restore --to NEWNAME (a new service of the same kind on the add-on's app). */
  createAddon(app: string, input: { kind: AddonKind; name: string; as: string }, caller: Caller): Promise<AddonChange>;
  /** Scheduled captures and retention are on the audit trail too (no request carries them). */
  audit(event: { actor: string; action: string; target: string; status: number; detail: string }): void;
  log(line: string): void;
}

export interface RestoreRequest { confirm?: unknown; to?: unknown }

/** The var a restore --to NEWNAME sets on the add-on's app: NEWNAME_URL ("shop-db-copy" → SHOP_DB_COPY_URL). */
export const copyVar = (name: string): string => `${name.toUpperCase().replace(/-/g, '_')}_URL`;

const SCHEDULE_ACTOR = 'schedule';
const DUMP_BUFFER_BYTES = 1024 * 1024;

export class AddonBackups {
  readonly #d: BackupsDeps;
  /** Add-ons with a capture or restore under way: one at a time each. */
  readonly #busy = new Set<string>();
  constructor(deps: BackupsDeps) { this.#d = deps; }

  list(name: string, caller: Caller): BackupList {
    const addon = this.#visible(name, caller);
    return { addon: addon.name, kind: addon.kind, schedule: this.#scheduleView(addon.name), backups: this.#d.backups.list(addon.name).map(publicView) };
  }

  async capture(name: string, caller: Caller): Promise<Backup> {
    return publicView(await this.#capture(this.#visible(name, caller), caller.name));
  }

  /** The stored dump, hashed as it streams: a mismatch with the recorded SHA-256 breaks the stream off. */
  async download(name: string, id: string, caller: Caller): Promise<{ backup: Backup; body: Readable }> {
    const addon = this.#visible(name, caller);
    const backup = this.#succeeded(addon.name, id);
    const stored = await this.#d.objects.get(backup.storeKey);
    const verified = pipeline(stored, checksumGuard(backup.sha256!, `${addon.name} ${backup.id}`), (err) => {
      if (err) this.#d.log(`backups: download of ${addon.name} ${backup.id} broke off: ${err.message}`);
    });
    return { backup: publicView(backup), body: verified };
  }

  /** backups:restore ADDON ID: the stored backup's kind and checksum first, then the service (or a new one, `to`). */
  async restore(name: string, id: string, request: RestoreRequest, caller: Caller): Promise<BackupRestore> {
    const addon = this.#visible(name, caller);
    const backup = this.#succeeded(addon.name, id);
    checkRestoreKind(backup.kind, addon.kind, addon.name);
    const to = this.#checkTarget(addon, request, `${backup.id} of ${backup.startedAt}`);
    return this.#exclusive(addon.name, async () => {
      await this.#verifyStored(backup);
      return this.#restoreInto(addon, to, `${addon.name} ${backup.id}`, () => this.#d.objects.get(backup.storeKey), caller);
    });
  }

  /**
   * backups:restore ADDON --from-file FILE: the upload is stored first (under a key of its own), its checksum
   * compared with the one the client sent and its kind read from its first bytes; only then is the service touched.
   */
  async restoreUpload(name: string, body: Readable, request: RestoreRequest & { sha256?: unknown }, caller: Caller): Promise<BackupRestore> {
    const addon = this.#visible(name, caller);
    const to = this.#checkTarget(addon, request, 'the uploaded file');
    if (request.sha256 !== undefined && !(typeof request.sha256 === 'string' && /^[0-9a-f]{64}$/.test(request.sha256))) {
      throw new BerthError(422, 'invalid_checksum', 'The checksum is the file\'s SHA-256 as 64 lowercase hex digits.');
    }
    return this.#exclusive(addon.name, async () => {
      const key = backupKey(addon.name, `upload-${randomBytes(8).toString('hex')}`);
      try {
        const stored = await this.#d.objects.put(key, body);
        if (request.sha256 !== undefined && stored.sha256 !== request.sha256) {
          throw new BerthError(422, 'checksum_mismatch', `The upload's SHA-256 is ${stored.sha256}, not the file's ${String(request.sha256)}: it was damaged on the way. "${addon.name}" was not touched.`);
        }
        checkRestoreKind(dumpKind(await readHead(await this.#d.objects.get(key))), addon.kind, addon.name);
        return await this.#restoreInto(addon, to, 'the uploaded file', () => this.#d.objects.get(key), caller);
      } finally {
        await this.#d.objects.delete(key).catch((err: unknown) => this.#d.log(`backups: could not delete the upload ${key}: ${(err as Error).message}`));
      }
    });
  }

  /** backups:schedule ADDON --at HH:MM --keep N (UTC), or --off; null: no schedule now. */
  setSchedule(name: string, input: { at?: unknown; keep?: unknown; off?: unknown }, caller: Caller): BackupSchedule | null {
    const addon = this.#visible(name, caller);
    if (input.off === true) {
      this.#d.backups.removeSchedule(addon.name);
      return null;
    }
    this.#d.backups.setSchedule(addon.name, parseAt(input.at), parseKeep(input.keep));
    return this.#scheduleView(addon.name);
  }

  /** Runs the captures whose time has come (the schedule loop's tick); each then applies its retention. */
  async runDue(now: Date): Promise<void> {
    for (const schedule of this.#d.backups.schedules()) {
      // An add-on busy with a backup or restore is asked again at the next tick.
      if (!isDue(schedule.at, new Date(schedule.lastRunAt), now) || this.#busy.has(schedule.addon)) continue;
      const addon = this.#d.addons.find(schedule.addon);
      this.#d.backups.markScheduleRun(schedule.addon, now);
      if (!addon) continue; // kept past its add-on's destroy: nothing to capture
      try {
        const backup = await this.#capture(addon, SCHEDULE_ACTOR);
        this.#d.audit({ actor: 'berth', action: 'backup schedule', target: addon.name, status: 201, detail: `captured ${backup.id} (${backup.size} bytes)` });
      } catch (err) {
        this.#d.audit({ actor: 'berth', action: 'backup schedule', target: addon.name, status: (err as BerthError).status ?? 500, detail: (err as Error).message.slice(0, 300) });
        this.#d.log(`backups: the scheduled backup of ${addon.name} failed: ${(err as Error).message}`);
      }
    }
  }

  /** At startup: backups a killed server left running are failed (their bytes, if any, go); stray partials go. */
  async recover(): Promise<void> {
    for (const row of this.#d.backups.failInterrupted()) {
      this.#d.log(`backups: ${row.addon} ${row.id} was interrupted (Berth stopped mid-backup): marked failed`);
      await this.#d.objects.delete(row.storeKey).catch(() => {});
    }
    // A local put killed mid-write leaves its temp file; an S3 multipart upload is never completed by a dead server.
    if (this.#d.objects instanceof LocalBackupStore) await this.#d.objects.sweepPartials();
  }

  /** The add-on is gone: so are its backups and schedule, unless kept (addons:destroy --keep-backups). */
  async addonDestroyed(name: string, keepBackups: boolean): Promise<void> {
    this.#d.backups.removeSchedule(name);
    if (keepBackups) return;
    for (const backup of this.#d.backups.list(name)) {
      await this.#d.objects.delete(backup.storeKey);
      this.#d.backups.remove(name, backup.id);
    }
  }

  async #capture(addon: AddonRow, trigger: string): Promise<BackupRow> {
    return this.#exclusive(addon.name, async () => {
      const row = this.#d.backups.start({ addon: addon.name, kind: addon.kind, trigger, store: this.#d.objects.kind }, (id) => backupKey(addon.name, id));
      const started = Date.now();
      try {
        // 1 MiB of room before the service's stream is paused (with the default 16 KiB nearly every piece of a
        // dump paused and resumed it: docs/benchmarks.md, add-ons).
        const dump = new PassThrough({ highWaterMark: DUMP_BUFFER_BYTES });
        const stored = this.#d.objects.put(row.storeKey, dump);
        const ran = this.#d.services.exec(addon.name, { command: dumpCommand(addon.kind), stdout: dump });
        ran.catch((err: unknown) => dump.destroy(err as Error)); // the store must not wait for bytes that never come
        const [run, put] = await Promise.allSettled([ran, stored]);
        if (run.status === 'rejected') throw run.reason;
        if (run.value.exitCode !== 0) throw new Error(`the dump exited with code ${run.value.exitCode}: ${run.value.stderrTail.trim().slice(-500) || 'no message'}`);
        if (put.status === 'rejected') throw put.reason;
        this.#d.backups.succeed(addon.name, row.id, put.value, Date.now() - started);
      } catch (err) {
        await this.#d.objects.delete(row.storeKey).catch(() => {});
        const reason = (err as Error).message;
        this.#d.backups.fail(addon.name, row.id, reason, Date.now() - started);
        throw new BerthError(500, 'backup_failed', `Backup ${row.id} of ${addon.name} failed: ${reason}`);
      }
      await this.#applyRetention(addon.name);
      return this.#d.backups.get(addon.name, row.id)!;
    });
  }

  /** With a schedule, only its last `keep` succeeded backups stay (failed ones are kept: they say what went wrong). */
  async #applyRetention(name: string): Promise<void> {
    const schedule = this.#d.backups.schedule(name);
    if (!schedule) return;
    for (const id of retentionPlan(this.#d.backups.list(name), schedule.keep)) {
      const backup = this.#d.backups.get(name, id);
      if (!backup) continue;
      await this.#d.objects.delete(backup.storeKey);
      this.#d.backups.remove(name, id);
      this.#d.audit({ actor: 'berth', action: 'backup retention', target: name, status: 200, detail: `deleted ${id} (keeping the last ${schedule.keep})` });
    }
  }

  /** Confirms an overwrite (the add-on's name typed again), or checks the new add-on's name (`to`). */
  #checkTarget(addon: AddonRow, request: RestoreRequest, what: string): string | null {
    if (request.to !== undefined && request.to !== null) return checkAddonName(request.to);
    if (request.confirm !== addon.name) {
      const apps = this.#d.addons.bindingsOfAddon(addon.id).map((b) => `${this.#d.apps.byId(b.appId)?.name ?? '?'} (${b.var})`);
      throw badRequest('confirmation_required', `Restoring ${what} replaces all the data in the ${addon.kind} add-on "${addon.name}"` +
        `${apps.length ? `, which ${apps.join(', ')} use${apps.length === 1 ? 's' : ''}` : ''}: confirm with --confirm ${addon.name}, or restore into a new add-on with --to NEWNAME.`);
    }
    return null;
  }

  async #restoreInto(addon: AddonRow, to: string | null, from: string, open: () => Promise<Readable>, caller: Caller): Promise<BackupRestore> {
    const started = Date.now();
    let target = addon;
    if (to !== null) {
      const owner = this.#d.apps.byId(addon.appId);
      if (!owner || !caller.canSee(owner.name)) throw notFound(`Add-on "${addon.name}" not found.`);
      await this.#d.createAddon(owner.name, { kind: addon.kind, name: to, as: copyVar(to) }, caller);
      target = this.#d.addons.find(to)!;
    }
    const result = await this.#d.services.exec(target.name, { command: restoreCommand(target.kind), stdin: await open() });
    if (result.exitCode !== 0) {
      throw new BerthError(500, 'restore_failed', `Restoring ${from} into "${target.name}" failed (exit code ${result.exitCode}): ${result.stderrTail.trim().slice(-500) || 'no message'}`);
    }
    return { addon: addon.name, into: target.name, from, created: to !== null, durationMs: Date.now() - started };
  }

  async #verifyStored(backup: BackupRow): Promise<void> {
    const objects = this.#d.objects;
    const actual = objects instanceof LocalBackupStore ? await objects.sha256(backup.storeKey) : await sha256Of(await objects.get(backup.storeKey));
    if (actual !== backup.sha256) {
      throw new BerthError(422, 'checksum_mismatch', `${backup.addon} ${backup.id} is damaged in the store (SHA-256 ${actual}, recorded ${backup.sha256}): nothing was restored.`);
    }
  }

  async #exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
    if (this.#busy.has(name)) throw conflict(`A backup or restore of "${name}" is under way: try again when it is done.`);
    this.#busy.add(name);
    try { return await work(); } finally { this.#busy.delete(name); }
  }

  /** The add-on, if the caller can see an app it is attached to; otherwise it answers like a missing one. */
  #visible(name: string, caller: Caller): AddonRow {
    const addon = this.#d.addons.find(checkAddonName(name));
    const seen = addon && this.#d.addons.bindingsOfAddon(addon.id).some((b) => {
      const app = this.#d.apps.byId(b.appId);
      return app !== undefined && caller.canSee(app.name);
    });
    if (!addon || !seen) throw notFound(`Add-on "${name}" not found.`);
    return addon;
  }

  #succeeded(addon: string, id: string): BackupRow {
    const backup = this.#d.backups.get(addon, checkBackupId(id));
    if (!backup) throw notFound(`No backup ${id} of "${addon}" (see berth backups ${addon}).`);
    if (backup.status !== 'succeeded') throw new BerthError(409, 'backup_not_usable', `${addon} ${id} ${backup.status === 'running' ? 'is still running' : `failed (${backup.error ?? 'no reason recorded'})`}: pick a succeeded backup.`);
    return backup;
  }

  #scheduleView(name: string): BackupSchedule | null {
    const schedule = this.#d.backups.schedule(name);
    return schedule ? { at: schedule.at, keep: schedule.keep, nextRunAt: nextRun(schedule.at, new Date(schedule.lastRunAt)).toISOString() } : null;
  }
}

function publicView(row: BackupRow): Backup {
  const { storeKey: _key, ...backup } = row;
  return backup;
}

/** Passes bytes through, hashing them; at the end, a hash other than `expected` is an error (the stream breaks off). */
function checksumGuard(expected: string, what: string): Transform {
  const hash = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _encoding, done) { hash.update(chunk); done(null, chunk); },
    flush(done) {
      const actual = hash.digest('hex');
      done(actual === expected ? null : new Error(`${what} does not match its recorded SHA-256 (${actual}, recorded ${expected})`));
    },
  });
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The first bytes of a stream (then it is let go). */
async function readHead(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length >= SIGNATURE_BYTES) break;
  }
  stream.destroy();
  return Buffer.concat(chunks).subarray(0, SIGNATURE_BYTES);
}
