// The S3 backup store: each backup is one object, PREFIX + "addon/id.dump", in an S3-compatible bucket. A put
// streams through a SHA-256 hash into a multipart upload (parts of PART_BYTES, at most QUEUE of them in flight,
// so memory stays flat whatever the dump's size); S3 shows an object only once the upload completes, and a failed
// put aborts its upload, so a key never holds a partial dump. The server loads this module (and the AWS SDK with
// it) only on the first backup that needs it (stores.ts).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, S3Client, type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { EntryDigest } from '../../backup/layout.ts';
import { notFound } from '../../shared/errors.ts';
import type { S3BackupSettings } from './s3-settings.ts';
import { assertBackupKey, type BackupStore, type StoredObject } from './store.ts';

/** 8 MiB parts, 2 in flight: ~16 MiB buffered per running backup, and a 1 GB dump is 128 parts. */
const PART_BYTES = 8 * 1024 * 1024;
const QUEUE = 2;

export class S3BackupStore implements BackupStore {
  readonly kind = 's3' as const;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(settings: S3BackupSettings) {
    this.#client = new S3Client(clientConfig(settings));
    this.#bucket = settings.bucket;
    this.#prefix = settings.prefix;
  }

  async put(key: string, body: Readable): Promise<StoredObject> {
    const objectKey = this.#objectKey(key);
    const hashed = new EntryDigest();
    // Settles with the source's error or null, never unhandled while the upload runs.
    const feeding = pipeline(body, hashed).then(() => null, (err: unknown) => err);
    const upload = new Upload({
      client: this.#client,
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
    if (failure !== null) throw withNote(failure, await this.#abort(objectKey, upload.uploadId));
    return { size: hashed.bytes, sha256: hashed.sha256() };
  }

  async get(key: string): Promise<Readable> {
    try {
      const answer = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#objectKey(key) }));
      if (!(answer.Body instanceof Readable)) throw new Error(`S3 answered ${key} without a body stream`);
      return answer.Body;
    } catch (err) {
      if (isMissing(err)) throw notFound(`No stored backup under ${key}.`);
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#objectKey(key) }));
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }

  /** Frees the parts of a failed upload; returns what could not be freed (said in the error), or null. */
  async #abort(objectKey: string, uploadId: string | undefined): Promise<string | null> {
    if (!uploadId) return null; // a single-part put: S3 stored nothing
    try {
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: objectKey, UploadId: uploadId }));
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
