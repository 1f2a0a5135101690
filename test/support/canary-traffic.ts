// Requests through Caddy to an app that may run a canary: each answer says which release served it ("hello from vN"
// in the test image's body) and which side of the split (X-Berth-Track), bounded in count or time, loopback only.
import http from 'node:http';
import { failedAttempt, racedIdleClose } from './traffic.ts';

export interface Answer { status: number; release: string; track: string | undefined; setCookie: string[] }

/** How many answers came from `release` ("vN"). */
export const countOf = (answers: Answer[], release: string): number => answers.filter((a) => a.release === release).length;

export class CanaryTraffic {
  readonly port: number;
  /** The app's hostname (a test may point it at another app). */
  host: string;
  private agent: http.Agent;

  constructor(port: number, host: string) {
    this.port = port;
    this.host = host;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  /**
   * Caddy 2.6 serves a kept-alive connection with the config it was accepted under until the connection closes, so
   * a route change (a canary's start, step, promote or abort) reaches new connections at once and old ones a little
   * later. Checks of what a route does now open new connections.
   */
  fresh(): void {
    this.agent.destroy();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  close(): void {
    this.agent.destroy();
  }

  /**
   * One request on a kept-alive connection, retried once on a new connection when it raced an idle connection's
   * close (racedIdleClose). Anything else is an answer with status 0 that says which connection and attempt failed.
   */
  get(headers: Record<string, string> = {}, attempt = 1): Promise<Answer> {
    return new Promise((resolve) => {
      let responded = false;
      const req = http.request({ host: '127.0.0.1', port: this.port, path: '/', headers: { host: this.host, ...headers }, agent: attempt === 1 ? this.agent : false, timeout: 10_000 }, (res) => {
        responded = true;
        let body = '';
        res.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => resolve({
          status: res.statusCode ?? 0, release: /hello from (v\d+)/.exec(body)?.[1] ?? '?',
          track: res.headers['x-berth-track'] as string | undefined, setCookie: res.headers['set-cookie'] ?? [],
        }));
        res.on('error', () => resolve({ status: 0, release: '?', track: undefined, setCookie: [] }));
      });
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', (err: NodeJS.ErrnoException) => {
        resolve(racedIdleClose(req, err, responded, attempt) ? this.get(headers, 2) : { status: 0, release: `? ${failedAttempt(req, err, attempt)}`, track: undefined, setCookie: [] });
      });
      req.end();
    });
  }

  /** `count` requests from `clients` concurrent clients (bounded by the count). */
  async many(count: number, clients = 16, headers: Record<string, string> = {}): Promise<Answer[]> {
    const answers: Answer[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: clients }, async () => {
      while (next < count) { next++; answers.push(await this.get(headers)); }
    }));
    return answers;
  }

  /** Requests (each client about 100/s at most) until `done()` says so or `maxMs` passes; every answer is kept. */
  async until(done: () => Promise<boolean>, maxMs: number, clients = 4): Promise<Answer[]> {
    const answers: Answer[] = [];
    let stop = false;
    const deadline = Date.now() + maxMs;
    const load = Promise.all(Array.from({ length: clients }, async () => {
      while (!stop && Date.now() < deadline) {
        answers.push(await this.get());
        await new Promise((r) => setTimeout(r, 10));
      }
    }));
    try {
      while (Date.now() < deadline && !(await done())) await new Promise((r) => setTimeout(r, 250));
    } finally {
      stop = true;
      await load;
    }
    return answers;
  }
}
