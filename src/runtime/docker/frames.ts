// The engine multiplexes a non-TTY exec's or attach's stdout and stderr on one stream, in frames: an 8-byte
// header [stream type (1 stdout, 2 stderr), 0, 0, 0, payload length (uint32 BE)] and the payload. This splits
// them as they arrive, handing on pieces of each payload as views of the chunk they came in: no byte is copied
// (dockerode's demuxStream concatenates every chunk onto what is pending, copying each byte two or three
// times, which a dump of hundreds of MB pays for).
const HEADER_BYTES = 8;

export type FrameStream = 'stdout' | 'stderr';

export class FrameSplitter {
  readonly #header = Buffer.alloc(HEADER_BYTES);
  #headerBytes = 0;
  #stream: FrameStream = 'stdout';
  /** Payload bytes of the current frame still to come; 0: a header is next. */
  #left = 0;
  readonly #deliver: (stream: FrameStream, piece: Buffer) => void;

  constructor(deliver: (stream: FrameStream, piece: Buffer) => void) { this.#deliver = deliver; }

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#left === 0) {
        const take = Math.min(HEADER_BYTES - this.#headerBytes, chunk.length - at);
        chunk.copy(this.#header, this.#headerBytes, at, at + take);
        this.#headerBytes += take;
        at += take;
        if (this.#headerBytes < HEADER_BYTES) return;
        this.#headerBytes = 0;
        const type = this.#header[0];
        if (type !== 1 && type !== 2) throw new Error(`not a multiplexed stream (frame type ${type})`);
        this.#stream = type === 2 ? 'stderr' : 'stdout';
        this.#left = this.#header.readUInt32BE(4);
        continue;
      }
      const take = Math.min(this.#left, chunk.length - at);
      this.#deliver(this.#stream, chunk.subarray(at, at + take));
      this.#left -= take;
      at += take;
    }
  }

  /** True between frames: a stream that ends here ended whole. */
  get atBoundary(): boolean { return this.#left === 0 && this.#headerBytes === 0; }
}
