// Procfile: one `type: command` per line. `release:` is not a process type but the command run once
// before a release goes live.
import { BuildError } from './errors.ts';

export interface Procfile {
  processes: Record<string, string>;
  releaseCommand: string | null;
}

const PROCESS_TYPE = /^[a-z][a-z0-9_-]*$/;

export function parseProcfile(text: string): Procfile {
  const processes: Record<string, string> = {};
  let releaseCommand: string | null = null;
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `Procfile line ${index + 1}`;
    const colon = line.indexOf(':');
    if (colon === -1) throw new BuildError(`${where}: expected "type: command", got "${line}"`);
    const type = line.slice(0, colon).trim();
    const command = line.slice(colon + 1).trim();
    if (!PROCESS_TYPE.test(type)) {
      throw new BuildError(`${where}: process type "${type}" must be lowercase letters, digits, "-" or "_", starting with a letter`);
    }
    if (command === '') throw new BuildError(`${where}: "${type}" has no command`);
    if (seen.has(type)) throw new BuildError(`${where}: process type "${type}" is defined twice`);
    seen.add(type);
    if (type === 'release') releaseCommand = command;
    else processes[type] = command;
  });
  return { processes, releaseCommand };
}
