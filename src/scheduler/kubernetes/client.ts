// The cluster connection: one kubeconfig, the API groups Berth uses, and the error cases it tolerates.
import * as k8s from '@kubernetes/client-node';

export interface Cluster {
  config: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  batch: k8s.BatchV1Api;
  policy: k8s.PolicyV1Api;
  /** The API server's host as the kubeconfig names it (loopback: Berth runs on a node). */
  apiHost: string;
}

export function connect(kubeconfigPath: string): Cluster {
  const config = new k8s.KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const server = config.getCurrentCluster()?.server;
  if (!server) throw new Error(`kubeconfig ${kubeconfigPath} names no current cluster`);
  return {
    config,
    core: config.makeApiClient(k8s.CoreV1Api),
    apps: config.makeApiClient(k8s.AppsV1Api),
    batch: config.makeApiClient(k8s.BatchV1Api),
    policy: config.makeApiClient(k8s.PolicyV1Api),
    apiHost: new URL(server).hostname.replace(/^\[|\]$/g, ''),
  };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

const codeOf = (err: unknown): number | undefined =>
  err instanceof k8s.ApiException ? err.code : (err as { code?: unknown })?.code as number | undefined;

export const isNotFound = (err: unknown) => codeOf(err) === 404;
export const isConflict = (err: unknown) => codeOf(err) === 409;

/** Runs a call whose 404 means "already gone" (deletes, reads of optional objects): null then. */
export async function unlessMissing<T>(call: () => Promise<T>): Promise<T | null> {
  try {
    return await call();
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/**
 * The namespace Berth works in, made (labelled with its owner) the first time a caller needs it; the scheduler and
 * the add-on services each hold one. A failed attempt is tried again on the next call.
 */
export function namespaceOnce(cluster: Cluster, name: string, labels: Record<string, string>): () => Promise<void> {
  let ready: Promise<void> | null = null;
  return () => {
    ready ??= (async () => {
      if (await unlessMissing(() => cluster.core.readNamespace({ name }))) return;
      try {
        await cluster.core.createNamespace({ body: { metadata: { name, labels } } });
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    })().catch((err) => { ready = null; throw err; });
    return ready;
  };
}

/** The API server's own message (from its Status body) rather than the client's "HTTP-Code: 422 …" dump. */
export function apiMessage(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body = typeof err.body === 'string' ? safeJson(err.body) : err.body;
    const message = (body as { message?: string } | null)?.message;
    return message ? `${message} (HTTP ${err.code})` : `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function safeJson(text: string): unknown {
  try { return JSON.parse(text); } catch { return null; }
}
