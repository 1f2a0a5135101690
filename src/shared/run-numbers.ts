// The run.N numbers being handed out per app (berth run), on either scheduler: a number is held from
// choosing it until the container or pod carries it as a label. An app with none held keeps no entry,
// so destroyed apps leave nothing behind.
export type RunNumbers = Map<string, Set<number>>;

export function holdRunNumber(numbers: RunNumbers, app: string, index: number): void {
  numbers.set(app, (numbers.get(app) ?? new Set<number>()).add(index));
}

export function releaseRunNumber(numbers: RunNumbers, app: string, index: number): void {
  const held = numbers.get(app);
  held?.delete(index);
  if (held?.size === 0) numbers.delete(app);
}
