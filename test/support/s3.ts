// A private S3-protocol server for tests: s3rver (files in a temp dir) on a free 127.0.0.1 port, with one
// bucket, s3rver's fixed test credentials, and a log of the requests it answered (method and query keys), so
// a test can see that an upload was aborted even where s3rver itself does not implement the abort.
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver';

export interface S3Request { method: string; path: string; query: string[]; status: number }

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** BERTH_BACKUP_S3_* for a Berth server (or the store) using this bucket under prefix. */
  env(prefix?: string): Record<string, string>;
  requests: S3Request[];
  /** The keys stored in the bucket right now (from s3rver's own files, not through the API under test). */
  storedKeys(): Promise<string[]>;
  stop(): Promise<void>;
}

/** s3rver accepts exactly this pair and checks every request's signature against it. */
const ACCESS_KEY_ID = 'S3RVER';
const SECRET_ACCESS_KEY = 'S3RVER';

export async function startS3(bucket = 'berth-backups'): Promise<TestS3> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-s3-'));
  const s3rver = new S3rver({ directory: dir, silent: true, configureBuckets: [{ name: bucket }] });
  await s3rver.configureBuckets();
  const handle = s3rver.callback();
  const requests: S3Request[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://s3');
    res.on('finish', () => requests.push({ method: req.method ?? '', path: url.pathname, query: [...url.searchParams.keys()], status: res.statusCode }));
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    bucket,
    requests,
    env: (prefix = '') => ({
      BERTH_BACKUP_S3_ENDPOINT: endpoint, BERTH_BACKUP_S3_BUCKET: bucket, BERTH_BACKUP_S3_REGION: 'us-east-1',
      BERTH_BACKUP_S3_ACCESS_KEY_ID: ACCESS_KEY_ID, BERTH_BACKUP_S3_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      ...(prefix ? { BERTH_BACKUP_S3_PREFIX: prefix } : {}),
    }),
    async storedKeys() {
      const files = await fs.readdir(path.join(dir, bucket), { recursive: true });
      // s3rver keeps an object as KEY._S3rver_object beside its metadata files.
      return files.map(String).filter((f) => f.endsWith('._S3rver_object')).map((f) => f.slice(0, -'._S3rver_object'.length)).sort();
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
