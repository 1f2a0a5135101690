// Refusing a push in git's own words. git shows nothing of an HTTP error body on a push POST (only
// "RPC failed; HTTP 413"), so an oversized push is answered like receive-pack would answer: the
// reason as `remote:` lines and every ref reported as rejected.

interface PushCommands { refs: string[]; capabilities: Set<string> }

/** The refused push as a receive-pack result, or null when its commands cannot be read. */
export function refusedPushResponse(bodyStart: Buffer, message: string[], reason: string): Response | null {
  const commands = readCommands(bodyStart);
  if (!commands) return null;
  const caps = commands.capabilities;
  // Without a status report git would take silence for success: better the bare 413 then.
  if (!caps.has('report-status') && !caps.has('report-status-v2')) return null;
  const report = Buffer.concat([
    pktLine(`unpack ${reason}\n`),
    ...commands.refs.map((ref) => pktLine(`ng ${ref} ${reason}\n`)),
    FLUSH,
  ]);
  const sideband = caps.has('side-band-64k') || caps.has('side-band');
  const body = sideband
    ? Buffer.concat([...message.map((line) => band(2, `${line}\n`)), ...chunks(report, SIDEBAND_DATA_MAX).map((part) => band(1, part)), FLUSH])
    : report;
  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'application/x-git-receive-pack-result', 'cache-control': 'no-cache' },
  });
}

/** Reads the `old new ref[\0caps]` pkt-lines that open a receive-pack request, up to the flush. */
function readCommands(buf: Buffer): PushCommands | null {
  const refs: string[] = [];
  let capabilities = new Set<string>();
  for (let offset = 0; offset + 4 <= buf.length;) {
    const length = Number.parseInt(buf.subarray(offset, offset + 4).toString('latin1'), 16);
    if (Number.isNaN(length) || (length > 0 && length < 4)) return null;
    if (length === 0) return refs.length > 0 ? { refs, capabilities } : null;
    if (offset + length > buf.length) return null;
    const [command, caps] = buf.subarray(offset + 4, offset + length).toString('utf8').replace(/\n$/, '').split('\0');
    const ref = command.split(' ')[2];
    if (!ref?.startsWith('refs/')) return null;
    refs.push(ref);
    if (caps !== undefined) capabilities = new Set(caps.split(' '));
    offset += length;
  }
  return null;
}

const FLUSH = Buffer.from('0000');
/** What fits in a packet of the small (1000 byte) side-band, so either flavour works. */
const SIDEBAND_DATA_MAX = 990;

function chunks(buf: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return parts;
}

function pktLine(payload: string | Buffer): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([Buffer.from((data.length + 4).toString(16).padStart(4, '0')), data]);
}

/** One side-band packet; band 1 carries the report, band 2 text git prints as `remote: …`. */
const band = (n: 1 | 2, data: string | Buffer): Buffer =>
  pktLine(Buffer.concat([Buffer.from([n]), typeof data === 'string' ? Buffer.from(data) : data]));
