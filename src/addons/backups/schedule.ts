// Backup schedules and retention, as pure decisions: when a daily capture runs next, and which backups a
// "keep N" lets go. Times are UTC (the server's clock, whatever its TZ), so a schedule means the same on
// every server and across daylight-saving changes.
import { BerthError } from '../../shared/errors.ts';

export const MAX_KEEP = 365;
export const DEFAULT_KEEP = 7;

/** "--at 02:00": HH:MM in UTC, normalised to two digits each. */
export function parseAt(raw: unknown): string {
  const m = typeof raw === 'string' ? /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(raw.trim()) : null;
  if (!m) throw new BerthError(422, 'invalid_schedule', 'Give the time of the daily backup as HH:MM in UTC, like --at 02:00.');
  return `${m[1]!.padStart(2, '0')}:${m[2]}`;
}

/** "--keep 7": how many succeeded backups retention keeps (1 to 365). */
export function parseKeep(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return DEFAULT_KEEP;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,4}$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(Number.isInteger(n) && n >= 1 && n <= MAX_KEEP)) {
    throw new BerthError(422, 'invalid_keep', `--keep is how many backups to keep: a whole number from 1 to ${MAX_KEEP}.`);
  }
  return n;
}

/** The first time at `at` (UTC) strictly after `after`. */
export function nextRun(at: string, after: Date): Date {
  const [hours, minutes] = at.split(':').map(Number) as [number, number];
  const candidate = new Date(Date.UTC(after.getUTCFullYear(), after.getUTCMonth(), after.getUTCDate(), hours, minutes));
  if (candidate.getTime() <= after.getTime()) candidate.setUTCDate(candidate.getUTCDate() + 1);
  return candidate;
}

/**
 * A schedule is due when its next run after the last one it made (or after it was set) has come. A server down
 * through the hour runs one catch-up capture when it is back, not one per missed day.
 */
export function isDue(at: string, since: Date, now: Date): boolean {
  return nextRun(at, since).getTime() <= now.getTime();
}

/** Retention: of the succeeded backups (any order), the ids beyond the newest `keep`. Others are never touched. */
export function retentionPlan(backups: Array<{ id: string; status: string; startedAt: string }>, keep: number): string[] {
  return backups
    .filter((b) => b.status === 'succeeded')
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.id.localeCompare(a.id))
    .slice(keep)
    .map((b) => b.id);
}

/** Backup ids per add-on: b001, b002… (more digits past b999). */
export const backupId = (seq: number): string => `b${String(seq).padStart(3, '0')}`;

export const BACKUP_ID = /^b\d{3,9}$/;

export function checkBackupId(raw: string): string {
  if (BACKUP_ID.test(raw)) return raw;
  throw new BerthError(404, 'not_found', `No backup "${raw.slice(0, 40)}": backup ids look like b001 (see berth backups ADDON).`);
}
