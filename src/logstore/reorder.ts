// Lines in API form held back until they can be handed out in time order. Stored lines are in arrival
// order; instances are read side by side, so neighbours can be a little out of time order. While every
// held line is in order (the common case) releasing is slicing the chunks as they are; only when a line
// arrived out of order are the held lines sorted (stably) and copied.
import type { ApiChunk } from './api-shape.ts';

interface Part { chunk: ApiChunk; from: number }

export class HeldLines {
  private parts: Part[] = [];
  private inOrder = true;
  /** Time of the last held line in arrival order (-Infinity when nothing is held); only meaningful while in order. */
  private lastTs = Number.NEGATIVE_INFINITY;
  /** Newest time seen so far. */
  newest = Number.NEGATIVE_INFINITY;

  add(chunk: ApiChunk): void {
    if (chunk.lines === 0) return;
    for (let i = 0; i < chunk.lines; i++) {
      const ts = chunk.ts[i];
      // While in order, the last held line is also the newest held one.
      if (ts < this.lastTs) this.inOrder = false;
      this.lastTs = ts;
      if (ts > this.newest) this.newest = ts;
    }
    this.parts.push({ chunk, from: 0 });
  }

  /** The held lines with a time ≤ upTo, in time order (as buffers to write one after the other). */
  release(upTo: number): Buffer[] {
    if (!this.inOrder) this.sort();
    const out: Buffer[] = [];
    while (this.parts.length) {
      const part = this.parts[0];
      const { chunk } = part;
      let cut = part.from;
      while (cut < chunk.lines && chunk.ts[cut] <= upTo) cut++;
      if (cut > part.from) out.push(chunk.buf.subarray(chunk.starts[part.from], chunk.starts[cut]));
      if (cut < chunk.lines) {
        part.from = cut;
        break;
      }
      this.parts.shift();
    }
    if (this.parts.length === 0) this.lastTs = Number.NEGATIVE_INFINITY;
    return out;
  }

  /** All held lines, stably sorted by time, as one part. */
  private sort(): void {
    const refs: Array<{ ts: number; chunk: ApiChunk; line: number }> = [];
    let bytes = 0;
    for (const { chunk, from } of this.parts) {
      for (let line = from; line < chunk.lines; line++) refs.push({ ts: chunk.ts[line], chunk, line });
      bytes += chunk.starts[chunk.lines] - chunk.starts[from];
    }
    refs.sort((a, b) => a.ts - b.ts);
    const buf = Buffer.allocUnsafe(bytes);
    const ts = new Float64Array(refs.length);
    const starts = new Uint32Array(refs.length + 1);
    let pos = 0;
    refs.forEach((ref, i) => {
      starts[i] = pos;
      ts[i] = ref.ts;
      pos += ref.chunk.buf.copy(buf, pos, ref.chunk.starts[ref.line], ref.chunk.starts[ref.line + 1]);
    });
    starts[refs.length] = pos;
    this.parts = [{ chunk: { buf, ts, starts, lines: refs.length }, from: 0 }];
    this.inOrder = true;
    this.lastTs = refs.length ? ts[refs.length - 1] : Number.NEGATIVE_INFINITY;
  }
}
