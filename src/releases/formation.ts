// Process formation rules: which process types run, how many, how big (ps:scale, ps:resize).
import type { FormationEntry } from '../state/schema.ts';
import { badRequest } from '../shared/errors.ts';
import { checkProcessType } from '../shared/validation.ts';

export interface FormationUpdate { type: string; quantity?: number; memoryMB?: number | null; cpus?: number | null }

export const MIN_MEMORY_MB = 16;
export const MAX_MEMORY_MB = 256 * 1024;
export const MAX_CPUS = 256;

export function defaultFormation(): FormationEntry[] {
  return [{ type: 'web', quantity: 1, memoryMB: null, cpus: null, command: null, generation: 0 }];
}

/**
 * The formation after a build: one entry per Procfile process type, keeping the scale and size users set
 * for types that stay; new types start like Heroku's: web at 1, others at 0. No Procfile (processes = {}):
 * a single web running the image's own command.
 */
export function formationForProcesses(current: FormationEntry[], processes: Record<string, string>): FormationEntry[] {
  const types = Object.keys(processes).length ? Object.entries(processes) : [['web', null] as const];
  return types.map(([type, command]) => {
    const existing = current.find((f) => f.type === type);
    if (existing) return { ...existing, command };
    return { type, quantity: type === 'web' ? 1 : 0, memoryMB: null, cpus: null, command, generation: 0 };
  });
}

/**
 * app.json's formation, for the process types a build adds: types the app ran before keep what users set
 * with ps:scale. Checked like ps:scale (limits, sizes). Types the build does not have are left out.
 */
export function withInitialFormation(next: FormationEntry[], before: FormationEntry[],
  initial: Record<string, Omit<FormationUpdate, 'type'>>, maxQuantity: number): FormationEntry[] {
  const updates = Object.entries(initial)
    .filter(([type]) => next.some((f) => f.type === type) && !before.some((f) => f.type === type))
    .map(([type, settings]) => ({ type, ...settings }));
  return updates.length ? applyFormationUpdates(next, updates, maxQuantity) : next;
}

export function applyFormationUpdates(current: FormationEntry[], updates: FormationUpdate[], maxQuantity: number): FormationEntry[] {
  if (!Array.isArray(updates) || updates.length === 0) throw badRequest('bad_request', 'Give at least one process type to change, like web=2.');
  const next = current.map((f) => ({ ...f }));
  for (const update of updates) {
    const type = checkProcessType(update?.type);
    const entry = next.find((f) => f.type === type);
    if (!entry) {
      throw badRequest('invalid_process_type', `No process type "${type}" (known: ${current.map((f) => f.type).join(', ')}).`);
    }
    if (update.quantity !== undefined) entry.quantity = checkQuantity(type, update.quantity, maxQuantity);
    if (update.memoryMB !== undefined) entry.memoryMB = checkMemory(update.memoryMB);
    if (update.cpus !== undefined) entry.cpus = checkCpus(update.cpus);
  }
  return next;
}

function checkQuantity(type: string, quantity: unknown, max: number): number {
  if (!Number.isInteger(quantity) || (quantity as number) < 0) {
    throw badRequest('invalid_quantity', `The quantity of ${type} must be a whole number ≥ 0.`);
  }
  if ((quantity as number) > max) {
    throw badRequest('invalid_quantity', `At most ${max} instances per process type are allowed (asked ${quantity} for ${type}).`);
  }
  return quantity as number;
}

function checkMemory(memoryMB: unknown): number | null {
  if (memoryMB === null) return null;
  if (!Number.isInteger(memoryMB) || (memoryMB as number) < MIN_MEMORY_MB || (memoryMB as number) > MAX_MEMORY_MB) {
    throw badRequest('invalid_size', `Memory must be a whole number of MB from ${MIN_MEMORY_MB} to ${MAX_MEMORY_MB}.`);
  }
  return memoryMB as number;
}

function checkCpus(cpus: unknown): number | null {
  if (cpus === null) return null;
  if (typeof cpus !== 'number' || !(cpus >= 0.01 && cpus <= MAX_CPUS)) {
    throw badRequest('invalid_size', `CPUs must be a number from 0.01 to ${MAX_CPUS}.`);
  }
  return cpus;
}
