// BERTH_BACKUP_S3_*: where add-on backups go when an S3-compatible bucket is configured. Parsed once at startup
// so a typo stops the server with a message (never one that shows the secret key) instead of failing the first
// backup hours later.

export interface S3BackupSettings {
  /** http(s) URL of an S3-compatible server (MinIO, Garage, R2...); null: AWS S3 itself, found by region. */
  endpoint: string | null;
  bucket: string;
  region: string;
  /** Both or neither; neither: the SDK's usual chain (environment, instance role). */
  credentials: { accessKeyId: string; secretAccessKey: string } | null;
  /** Put before every key ("" or ending in "/"), so one bucket can hold other things too. */
  prefix: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9-]{1,40}$/;
const PREFIX = /^[A-Za-z0-9._\/-]{0,200}$/;

/** null when no BERTH_BACKUP_S3_* is set (backups stay on local disk); throws on a half or wrong setting. */
export function s3BackupSettingsFrom(env: NodeJS.ProcessEnv): S3BackupSettings | null {
  const value = (name: string) => env[`BERTH_BACKUP_S3_${name}`]?.trim() ?? '';
  const anySet = ['ENDPOINT', 'BUCKET', 'REGION', 'ACCESS_KEY_ID', 'SECRET_ACCESS_KEY', 'PREFIX'].some((n) => value(n) !== '');
  if (!anySet) return null;

  const bucket = value('BUCKET');
  if (!BUCKET.test(bucket)) throw new Error(`BERTH_BACKUP_S3_BUCKET must be an S3 bucket name (3-63 of a-z 0-9 . -), got "${bucket}"`);
  const endpoint = value('ENDPOINT') || null;
  if (endpoint !== null && !validEndpoint(endpoint)) {
    throw new Error(`BERTH_BACKUP_S3_ENDPOINT must be an http:// or https:// URL without credentials, path or query, got "${endpoint}"`);
  }
  const region = value('REGION') || 'us-east-1';
  if (!REGION.test(region)) throw new Error(`BERTH_BACKUP_S3_REGION must look like eu-west-1, got "${region}"`);
  const accessKeyId = value('ACCESS_KEY_ID');
  const secretAccessKey = value('SECRET_ACCESS_KEY');
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    throw new Error('BERTH_BACKUP_S3_ACCESS_KEY_ID and BERTH_BACKUP_S3_SECRET_ACCESS_KEY are set together or not at all');
  }
  const prefix = value('PREFIX').replace(/^\/+/, '');
  if (!PREFIX.test(prefix) || prefix.split('/').some((part) => part === '..' || part === '.')) {
    throw new Error(`BERTH_BACKUP_S3_PREFIX may hold letters, digits and . _ - / (no . or .. segments), got "${prefix}"`);
  }
  return {
    endpoint,
    bucket,
    region,
    credentials: accessKeyId ? { accessKeyId, secretAccessKey } : null,
    prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
  };
}

function validEndpoint(raw: string): boolean {
  try {
    const url = new URL(raw);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password
      && (url.pathname === '/' || url.pathname === '') && !url.search && !url.hash;
  } catch {
    return false;
  }
}
