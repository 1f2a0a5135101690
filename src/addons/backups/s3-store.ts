// The S3 backup store: each backup is one object, PREFIX + "addon/id.dump", in an S3-compatible bucket. A put
// streams through a SHA-256 hash into a multipart upload (parts of PART_BYTES, at most QUEUE of them in flight,
// so memory stays flat whatever the dump's size); S3 shows an object only once the upload completes, and a failed
// put aborts its upload, so a key never holds a partial dump.
// The AWS SDK is loaded on the first call, not at startup: it costs ~37 MB of RSS that a server keeping its
// backups on local disk should not pay.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { EntryDigest } from '../../backup/layout.ts';
import { notFound } from '../../shared/errors.ts';
import type { S3BackupSettings } from './s3-settings.ts';
import { assertBackupKey, type BackupStore, type StoredObject } from './store.ts';

/** 8 MiB parts, 2 in flight: ~16 MiB buffered per running backup, and a 1 GB dump is 128 parts. */
const PART_BYTES = 8 * 1024 * 1024;
const QUEUE = 2;

type Sdk = typeof import('@aws-sdk/client-s3') & typeof import('@aws-sdk/lib-storage');
let sdk: Promise<Sdk> | null = null;
const loadSdk = (): Promise<Sdk> => (sdk ??= Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage')])
  .then(([s3, storage]) => ({ ...s3, ...storage })));

export class S3BackupStore implements BackupStore {
  readonly kind = 's3' as const;
  readonly #settings: S3BackupSettings;
  readonly #bucket: string;
  readonly #prefix: string;
  #connected: Promise<{ sdk: Sdk; client: S3Client }> | null = null;

  constructor(settings: S3BackupSettings) {
    this.#settings = settings;
    this.#bucket = settings.bucket;
    this.#prefix = settings.prefix;
  }

  /** The SDK and one client, made on first use and shared by every call after. */
  #connect(): Promise<{ sdk: Sdk; client: S3Client }> {
    return (this.#connected ??= loadSdk().then((sdk) => ({ sdk, client: new sdk.S3Client(clientConfig(this.#settings)) })));
  }

  async put(key: string, body: Readable): Promise<StoredObject> {
    const objectKey = this.#objectKey(key);
    const { sdk, client } = await this.#connect();
    const hashed = new EntryDigest();
    // Settles with the source's error or null, never unhandled while the upload runs.
    const feeding = pipeline(body, hashed).then(() => null, (err: unknown) => err);
    const upload = new sdk.Upload({
      client,
      params: { Bucket: this.#bucket, Key: objectKey, Body: hashed, ContentType: 'application/octet-stream' },
      partSize: PART_BYTES,
      queueSize: QUEUE,
      leavePartsOnError: true, // aborted below, so an abort that fails cannot hide why the put failed
    });
    let failure: unknown = null;
    try {
      await upload.done();
    } catch (err) {
      failure = err; // a source that failed fails the upload's read with its own error, so this says why
      hashed.destroy(); // the source stops too: a dump is not left blocked on a full pipe
    }
    const sourceFailure = await feeding; // after the source is closed, whichever way
    failure ??= sourceFailure;
    if (failure !== null) throw withNote(failure, await this.#abort(objectKey, upload.uploadId, sdk, client));
    return { size: hashed.bytes, sha256: hashed.sha256() };
  }

  async get(key: string): Promise<Readable> {
    const objectKey = this.#objectKey(key);
    const { sdk, client } = await this.#connect();
    try {
      const answer = await client.send(new sdk.GetObjectCommand({ Bucket: this.#bucket, Key: objectKey }));
      if (!(answer.Body instanceof Readable)) throw new Error(`S3 answered ${key} without a body stream`);
      return answer.Body;
    } catch (err) {
      if (isMissing(err)) throw notFound(`No stored backup under ${key}.`);
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.#objectKey(key);
    const { sdk, client } = await this.#connect();
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.#bucket, Key: objectKey }));
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }

  /** Frees the parts of a failed upload; returns what could not be freed (said in the error), or null. */
  async #abort(objectKey: string, uploadId: string | undefined, sdk: Sdk, client: S3Client): Promise<string | null> {
    if (!uploadId) return null; // a single-part put: S3 stored nothing
    try {
      await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: objectKey, UploadId: uploadId }));
      return null;
    } catch (err) {
      const why = err instanceof Error ? err.name : 'unknown error';
      return `its multipart upload ${uploadId} could not be aborted (${why}): the bucket keeps those parts, never as an object, until a lifecycle rule removes them`;
    }
  }

  #objectKey(key: string): string {
    assertBackupKey(key);
    return this.#prefix + key;
  }
}

function clientConfig(settings: S3BackupSettings): S3ClientConfig {
  return {
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint, forcePathStyle: true } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    // Berth checks its own SHA-256; many S3-compatible servers reject or mangle the SDK's default CRC32 trailers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
  };
}

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

function withNote(err: unknown, note: string | null): unknown {
  if (note && err instanceof Error) err.message = `${err.message}; ${note}`;
  return err;
}
