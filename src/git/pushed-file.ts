// One small file of a pushed commit (app.json), read from the push's quarantine before anything is built.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SHA, ZERO_SHA } from './protocol.ts';
import { gitFreeEnv } from './repos.ts';

const execFileAsync = promisify(execFile);
const PLAIN_PATH = /^[A-Za-z0-9._-]{1,100}$/; // a file at the root of the tree; nothing git could read as an option

/** `ls-tree -l` line: "<mode> <type> <object> <size>\t<path>". */
const TREE_LINE = /^(\d{6}) (\w+) ([0-9a-f]+) +(\d+|-)\t/;

/**
 * The file's bytes, or null when the commit has no such file. A symlink or directory by that name, or a
 * file larger than `maxBytes`, is an error with a message for the pusher.
 */
export async function readPushedFile(sha: string, file: string, maxBytes: number, gitEnv: Record<string, string>): Promise<Buffer | null> {
  if (!SHA.test(sha) || ZERO_SHA.test(sha)) throw new Error(`Cannot read ${file} of ${sha.slice(0, 12)}: not a commit.`);
  if (!PLAIN_PATH.test(file)) throw new Error(`Cannot read "${file}": only plain file names at the root are read.`);
  const options = { cwd: gitEnv.GIT_DIR, env: { ...gitFreeEnv(), ...gitEnv }, maxBuffer: maxBytes + 4096 };
  const { stdout: listing } = await execFileAsync('git', ['ls-tree', '-l', sha, '--', file], { ...options, encoding: 'utf8' });
  if (listing.trim() === '') return null;
  const [, mode, type, object, size] = TREE_LINE.exec(listing) ?? [];
  if (type !== 'blob' || mode === '120000') throw new Error(`${file} must be a regular file, not a ${mode === '120000' ? 'symlink' : type ?? 'mystery'}.`);
  if (Number(size) > maxBytes) throw new Error(`${file} is ${size} bytes; at most ${maxBytes} are read.`);
  const { stdout } = await execFileAsync('git', ['cat-file', 'blob', object], { ...options, encoding: 'buffer' });
  return stdout;
}
