// Whether two files hold the same bytes (an installed executable and the one running `berth up`).
import { createHash } from 'node:crypto';
import fs from 'node:fs';

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    if (fs.statSync(a).size !== fs.statSync(b).size) return false;
  } catch {
    return false;
  }
  return (await sha256(a)) === (await sha256(b));
}
