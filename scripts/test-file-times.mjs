// A test reporter (node --test --test-reporter) that prints, after the run, how long each test file took,
// slowest first, with its share of the whole, so that a slow suite says where its time went even from the
// tail of a CI log. Files run one at a time (--test-concurrency=1): a file's time runs from the previous
// file's last event to its own last one, so its process start and its before() hooks count.
export default async function* fileTimes(source) {
  const lastEvent = new Map();   // file -> time of its last event
  const started = Date.now();
  for await (const event of source) {
    // The runner names a file both relative and absolute: one key per file.
    if (event.data?.file) lastEvent.set(event.data.file.replace(/^.*?\/?(test\/)/, '$1'), Date.now());
  }
  const total = (Date.now() - started) / 1000;
  let previous = started;
  const rows = [...lastEvent].sort((a, b) => a[1] - b[1]).map(([file, last]) => {
    const row = { file, seconds: (last - previous) / 1000 };
    previous = last;
    return row;
  }).sort((a, b) => b.seconds - a.seconds);
  yield `\ntest file times (${rows.length} files, ${total.toFixed(0)} s in all, slowest first):\n`;
  for (const row of rows) {
    yield `  ${row.seconds.toFixed(0).padStart(5)} s ${(100 * row.seconds / Math.max(total, 1)).toFixed(1).padStart(5)} %  ${row.file}\n`;
  }
}
