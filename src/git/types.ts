// The git receiver's contract with the rest of Berth: a push arrives, the deploy pipeline decides.
import type { Readable } from 'node:stream';

export interface RefUpdate { oldSha: string; newSha: string; ref: string }

export interface PushEvent {
  app: string;
  user: string;                 // who pushed (token owner)
  updates: RefUpdate[];
  /** tar of the tree of `newSha` for one ref (git archive --format=tar), streamed from the hook. */
  archive(ref: RefUpdate): Readable;
  /** A file at the root of `newSha` (app.json), or null if absent; larger than maxBytes is an error. */
  readFile(ref: RefUpdate, file: string, maxBytes: number): Promise<Buffer | null>;
  /** Sends one line to the pusher; git shows it as `remote: <line>`. */
  say(line: string): void;
  signal: AbortSignal;          // aborted when the pusher disconnects
  /** A build already started for this push, whose log `say` writes (a webhook answers with its id before fetching). */
  build?: { id: number };
}

/** Decides the push: resolve true to accept (refs are updated), false to reject it (refs stay). */
export type PushHandler = (push: PushEvent) => Promise<boolean>;
