// Small images the metrics, alerts and canary tests build on top of the hello image: one that burns a core,
// one that crash-loops after its first /crash, one that fails a fifth of its requests. Built without a context
// (Dockerfile on stdin), offline.
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

/** Every fifth request answers 500 (the health check, the first, passes): 20 % failing, naming its release like hello. */
const FLAKY_SERVER = "let n=0;require('http').createServer((q,r)=>{n++;r.statusCode=n%5===0?500:200;"
  + "r.end('hello from '+process.env.BERTH_RELEASE+' flaky\\n')}).listen(process.env.PORT||5000)";
export const FLAKY_DOCKERFILE = `FROM berth-test/hello:latest\nCMD ${JSON.stringify(['node', '-e', FLAKY_SERVER])}\n`;

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
