// A request body that keeps arriving: `first`, then `chunks` MB, one every `everyMs`. The server must read it to
// its end before it answers, even a refusal (src/api/upload.ts); `endedAt()` is when the last byte was handed over.
export function slowUpload(first: Uint8Array, chunks = 25, everyMs = 40): { body: ReadableStream<Uint8Array>; endedAt: () => number } {
  let ended = 0;
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(first);
      for (let i = 0; i < chunks; i++) {
        await new Promise((resolve) => setTimeout(resolve, everyMs));
        controller.enqueue(new Uint8Array(1024 * 1024).fill(0x61));
      }
      ended = Date.now();
      controller.close();
    },
  });
  return { body, endedAt: () => ended };
}

/** POSTs `upload` and says how long after its last byte the answer came (negative: before it). */
export async function postSlowly(url: string, token: string, upload: ReturnType<typeof slowUpload>): Promise<{ res: Response; afterEndMs: number }> {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: upload.body, duplex: 'half' } as RequestInit);
  const answeredAt = Date.now();
  return { res, afterEndMs: upload.endedAt() ? answeredAt - upload.endedAt() : -1 };
}
