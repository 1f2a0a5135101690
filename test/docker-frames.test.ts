// The engine's stdout/stderr framing, split without copying: any frames, cut into chunks anywhere, come out as
// the same bytes per stream in the same order (fast-check), and a non-multiplexed stream is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameSplitter, type FrameStream } from '../src/runtime/docker/frames.ts';

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
