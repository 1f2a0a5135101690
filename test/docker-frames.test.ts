// The engine's stdout/stderr framing, split without copying: any frames, cut into chunks anywhere, come out as
// the same bytes per stream in the same order (fast-check), and a non-multiplexed stream is refused; demuxInto
// keeps the engine's stream at the pace of its slowest side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PassThrough } from 'node:stream';
import { FrameSplitter, type FrameStream } from '../src/runtime/docker/frames.ts';
import { demuxInto } from '../src/runtime/docker/demux.ts';

function frame(type: 1 | 2, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

test('frames cut into chunks anywhere come out whole, per stream, in order', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ type: fc.constantFrom(1 as const, 2 as const), payload: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 20 }),
    fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }),
    (frames, cuts) => {
      const wire = Buffer.concat(frames.map((f) => frame(f.type, f.payload)));
      const got: Record<FrameStream, Buffer[]> = { stdout: [], stderr: [] };
      const splitter = new FrameSplitter((stream, piece) => got[stream].push(Buffer.from(piece)));
      let at = 0;
      for (let i = 0; at < wire.length; i++) {
        const size = cuts[i % cuts.length]!;
        splitter.push(wire.subarray(at, at + size));
        at += size;
      }
      const want = (type: 1 | 2) => Buffer.concat(frames.filter((f) => f.type === type).map((f) => Buffer.from(f.payload)));
      assert.deepEqual(Buffer.concat(got.stdout), want(1));
      assert.deepEqual(Buffer.concat(got.stderr), want(2));
      assert.equal(splitter.atBoundary, true);
    },
  ), { numRuns: 500 });
});

test('a stream that is not multiplexed (a TTY\'s) is refused, not misread', () => {
  const splitter = new FrameSplitter(() => {});
  assert.throws(() => splitter.push(Buffer.from('hello, world\n')), /not a multiplexed stream/);
});

test('a stream cut mid-frame is not at a boundary', () => {
  const splitter = new FrameSplitter(() => {});
  splitter.push(frame(1, Buffer.from('abcdef')).subarray(0, 10));
  assert.equal(splitter.atBoundary, false);
});

test('demuxInto: a slow side pauses the engine\'s stream, and every byte still arrives per stream, in order', async () => {
  const stdoutBytes = Buffer.alloc(3 * 1024 * 1024, 'o');
  const stderrBytes = Buffer.from('warning: slow disk\n');
  const wire = Buffer.concat([frame(1, stdoutBytes.subarray(0, 1024 * 1024)), frame(2, stderrBytes), frame(1, stdoutBytes.subarray(1024 * 1024))]);
  const source = new PassThrough({ highWaterMark: 64 * 1024 });
  // A reader that takes 64 KiB per tick: stdout's buffer fills, so the source must be paused to keep memory bounded.
  const stdout = new PassThrough({ highWaterMark: 64 * 1024 });
  const stderr = new PassThrough();
  let paused = 0;
  source.on('pause', () => { paused += 1; });
  demuxInto(source, stdout, stderr);
  const read = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of stdout) { chunks.push(chunk as Buffer); await new Promise((r) => setImmediate(r)); }
    return Buffer.concat(chunks);
  })();
  const errText = (async () => { const chunks: Buffer[] = []; for await (const c of stderr) chunks.push(c as Buffer); return Buffer.concat(chunks).toString(); })();
  source.on('end', () => { stdout.end(); stderr.end(); });
  for (let at = 0; at < wire.length; at += 100_000) {
    if (!source.write(wire.subarray(at, at + 100_000))) await new Promise((r) => source.once('drain', r));
  }
  source.end();
  assert.deepEqual(await read, stdoutBytes);
  assert.equal(await errText, stderrBytes.toString());
  assert.ok(paused > 0, 'the source was never paused: a slow reader would let the whole stream pile up in memory');
});

test('demuxInto: a stream that is not multiplexed is destroyed with the reason, not misread', async () => {
  const source = new PassThrough();
  const failed = new Promise<Error>((resolve) => source.once('error', resolve));
  demuxInto(source, new PassThrough(), new PassThrough());
  source.write(Buffer.from('hello from a TTY\n'));
  assert.match((await failed).message, /not a multiplexed stream/);
});
