// Small images the metrics and alerts tests build on top of the hello image: one that burns a core,
// one that crash-loops after its first /crash. Built without a context (Dockerfile on stdin), offline.
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const BURN_DOCKERFILE = `FROM berth-test/hello:latest
CMD ["sh", "-c", "(while :; do :; done) & exec node /app/server.js"]
`;

/** Serves until the first /crash; every later start exits at once (the container's files survive restarts). */
export const CRASH_LOOP_DOCKERFILE = `FROM berth-test/hello:latest
CMD ["sh", "-c", "if [ -e /tmp/crashed-once ]; then echo exiting at once; exit 1; fi; touch /tmp/crashed-once; exec node /app/server.js"]
`;

export function buildImage(tag: string, dockerfile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/docker', ['build', '-q', '-t', tag, '-'], { env: { ...process.env, DOCKER_BUILDKIT: '0' } });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker build ${tag} failed (${code}): ${output}`))));
    child.stdin.end(dockerfile);
  });
}

export async function removeImage(tag: string): Promise<void> {
  await execFileP('/usr/bin/docker', ['image', 'rm', '-f', tag]).catch(() => {});
}
