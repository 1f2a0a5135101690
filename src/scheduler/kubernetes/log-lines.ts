// The Log API's output (`timestamps=true`: "2024-05-01T10:00:00.123456789Z text\n" per line, stdout and
// stderr interleaved without telling them apart) as LogLines. Chunks may split lines anywhere.
import type { LogLine } from '../../runtime/types.ts';
import type { InstanceIdentity } from '../../runtime/docker/labels.ts';
import { splitTimestamp } from '../../runtime/docker/log-decoder.ts';

export class TextLogDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private readonly identity: InstanceIdentity;

  constructor(identity: InstanceIdentity) {
    this.identity = identity;
  }

  push(chunk: Buffer): LogLine[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const lines: LogLine[] = [];
    let newline: number;
    while ((newline = this.pending.indexOf(0x0a)) !== -1) {
      lines.push(this.toLine(this.pending.subarray(0, newline)));
      this.pending = this.pending.subarray(newline + 1);
    }
    return lines;
  }

  end(): LogLine[] {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest.length ? [this.toLine(rest)] : [];
  }

  private toLine(raw: Buffer): LogLine {
    const { time, body } = splitTimestamp(raw);
    // The API does not say which stream a line came from; stdout is what most apps log to.
    return { time, ...this.identity, stream: 'stdout', line: body.toString('utf8').replace(/\r$/, '') };
  }
}
