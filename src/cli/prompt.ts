// Reading the token for `berth login`: piped in, or typed at a hidden prompt.
import readline from 'node:readline';
import { Writable } from 'node:stream';

/** `echo $TOKEN | berth login`: everything on stdin, trimmed. */
export async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

/** Asks on stderr and reads one line without echoing it, so the token stays off the screen. */
export async function promptHidden(question: string): Promise<string> {
  process.stderr.write(question);
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const reader = readline.createInterface({ input: process.stdin, output: silent, terminal: true });
  try {
    const answer = await new Promise<string>((resolve) => reader.question('', resolve));
    return answer.trim();
  } finally {
    reader.close();
    process.stderr.write('\n');
  }
}
