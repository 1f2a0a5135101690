// Packing a closed raw segment: each block compressed on its own with zstd (fast to write and to
// read; an independent block can be decompressed without the ones before it). The packed index
// is renamed into place last, so a segment counts as packed only once both files are complete.
import fs from 'node:fs';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import {
  packedIndexPath, packedPath, rawIndexPath, rawPath, type BlockRef, type PackedIndex,
} from './segment.ts';

const zstdCompress = promisify(zlib.zstdCompress);
// Level 1: on log text it compresses ~20x at over 500 MB/s; higher levels gain little for much more CPU.
const ZSTD_OPTIONS = { params: { [zlib.constants.ZSTD_c_compressionLevel]: 1 } };

export function decompressBlock(data: Buffer): Buffer {
  return zlib.zstdDecompressSync(data);
}

/** Packs NAME.log into NAME.seg + NAME.idx and deletes the raw files; returns the packed index. */
export async function packSegment(dir: string, name: string, rawBlocks: BlockRef[]): Promise<PackedIndex> {
  const raw = await fs.promises.readFile(rawPath(dir, name));
  const segTmp = `${packedPath(dir, name)}.tmp`;
  const idxTmp = `${packedIndexPath(dir, name)}.tmp`;
  const out = await fs.promises.open(segTmp, 'w');
  const packed: BlockRef[] = [];
  try {
    let offset = 0;
    for (const block of rawBlocks) {
      // Async: the compression runs on libuv's pool, so the API stays responsive while packing.
      const compressed = await zstdCompress(raw.subarray(block.offset, block.offset + block.length), ZSTD_OPTIONS);
      await out.write(compressed);
      packed.push({ ...block, offset, length: compressed.length, rawLength: block.length });
      offset += compressed.length;
    }
  } finally {
    await out.close();
  }
  const index: PackedIndex = { codec: 'zstd', blocks: packed };
  await fs.promises.writeFile(idxTmp, JSON.stringify(index));
  await fs.promises.rename(segTmp, packedPath(dir, name));
  await fs.promises.rename(idxTmp, packedIndexPath(dir, name));
  await fs.promises.rm(rawPath(dir, name), { force: true });
  await fs.promises.rm(rawIndexPath(dir, name), { force: true });
  return index;
}
