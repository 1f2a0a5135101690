// The API's shapes as the CLI reads them (docs/api.md). Only what the CLI prints is relied on.

export interface App {
  deployBranch: string;
  name: string;
  url: string;
  gitUrl: string;
  status: 'new' | 'running' | 'deploying' | 'failed' | 'stopped';
  currentRelease: number | null;
  instances: number;
  domains: string[];
  createdAt: string;
  lastDeployAt: string | null;
}

export interface Formation {
  type: string;
  quantity: number;
  memoryMB: number | null;
  cpus: number | null;
  command: string | null;
}

export interface Release {
  version: number;
  status: 'pending' | 'deploying' | 'succeeded' | 'failed';
  description: string;
  image: string;
  imageId: string | null;
  configKeys: string[];
  formation: Formation[];
  createdAt: string;
  finishedAt: string | null;
  failureReason: string | null;
  current: boolean;
}

export interface Instance {
  name: string;
  type: string;
  index: number;
  release: number;
  state: string;
  host: string;
  hostPort: number | null;
  startedAt: string | null;
  restartCount: number;
  containerId: string;
}

export interface LogLine {
  time: string;
  process: string;
  index: number | null;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface Domain {
  hostname: string;
  kind: 'default' | 'custom';
}

/** One entry of PATCH /formation's `updates`. */
export interface FormationUpdate {
  type: string;
  quantity?: number;
  memoryMB?: number;
  cpus?: number;
}

export type ConfigVars = Record<string, string>;

/** What a token may do (docs/security.md): read < deploy < full (the user's rights) < admin (admins only). */
export const TOKEN_SCOPES = ['read', 'deploy', 'full', 'admin'] as const;
export type TokenScope = typeof TOKEN_SCOPES[number];

/** One row of GET /tokens; the secret itself is only in POST /tokens' answer, once. */
export interface ApiToken {
  id: number;
  user: string;
  scope: TokenScope;
  description: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  current: boolean;          // the token this request came with
}

/** POST /tokens' answer. */
export interface CreatedToken extends ApiToken { token: string }
