// The engine's multiplexed stdout/stderr (an attach or a non-TTY exec) split into two writable streams with the
// zero-copy FrameSplitter, with backpressure: the engine's stream pauses while either side is behind. A stream
// that is not multiplexed is destroyed with the splitter's error instead of being misread.
import { FrameSplitter } from './frames.ts';

/** What a side must offer: a write that says when it is full, and the drain event that says it no longer is. */
export interface DemuxSink {
  write(chunk: Buffer): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

export function demuxInto(source: NodeJS.ReadableStream & { destroy?(err?: Error): void }, stdout: DemuxSink, stderr: DemuxSink): void {
  let behind = 0;
  const frames = new FrameSplitter((stream, piece) => {
    const sink = stream === 'stderr' ? stderr : stdout;
    if (sink.write(piece)) return;
    behind += 1;
    source.pause();
    sink.once('drain', () => {
      behind -= 1;
      if (behind === 0) source.resume();
    });
  });
  source.on('data', (chunk: Buffer) => {
    try {
      frames.push(chunk);
    } catch (err) {
      if (source.destroy) source.destroy(err as Error);
      else source.emit('error', err);
    }
  });
}
