// Which nodes an installation's app pods may run on, from two settings an operator gives when Berth shares a
// cluster or has nodes of its own there: BERTH_K8S_NODE_SELECTOR (`key=value,...`: only nodes with all these
// labels) and BERTH_K8S_TOLERATIONS (`key=value:Effect` or `key:Effect`, comma-separated: taints its pods accept,
// e.g. the one that keeps other workloads off nodes dedicated to Berth). Parsed and checked here, once at start,
// with Kubernetes' own rules for label keys, values and taint effects; the manifests only copy the result.
import type { V1Toleration } from '@kubernetes/client-node';
import { isLabelKey, isLabelValue } from '../../../installer/kubernetes-labels.ts';

export interface NodeSelection {
  nodeSelector: Record<string, string>;
  tolerations: V1Toleration[];
}

export const NO_NODE_SELECTION: NodeSelection = { nodeSelector: {}, tolerations: [] };

const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];
/** Berth tolerates these itself (for a limited time, manifests.ts nodePlacement): a setting may not override that. */
const BERTH_OWN_KEYS = new Set(['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']);

function items(setting: string | undefined): string[] {
  return (setting ?? '').split(',').map((item) => item.trim()).filter(Boolean);
}

/** `key=value,key=value` (BERTH_K8S_NODE_SELECTOR, or the setting `name`); throws naming the item that is not one. */
export function parseNodeSelector(setting: string | undefined, name = 'BERTH_K8S_NODE_SELECTOR'): Record<string, string> {
  const selector: Record<string, string> = {};
  for (const item of items(setting)) {
    const eq = item.indexOf('=');
    const [key, value] = eq === -1 ? [item, null] : [item.slice(0, eq), item.slice(eq + 1)];
    if (value === null || !isLabelKey(key) || !isLabelValue(value)) {
      throw new Error(`${name}: ${JSON.stringify(item)} is not a node label key=value (letters, digits, "-_." and one "prefix/")`);
    }
    if (key in selector) throw new Error(`${name} names ${key} twice`);
    selector[key] = value;
  }
  return selector;
}

/** `key=value:Effect` or `key:Effect` (any value), comma-separated (BERTH_K8S_TOLERATIONS); throws naming the item. */
export function parseTolerations(setting: string | undefined): V1Toleration[] {
  const tolerations: V1Toleration[] = [];
  for (const item of items(setting)) {
    const colon = item.lastIndexOf(':');
    const taint = colon === -1 ? item : item.slice(0, colon);
    const effect = colon === -1 ? '' : item.slice(colon + 1);
    const eq = taint.indexOf('=');
    const [key, value] = eq === -1 ? [taint, null] : [taint.slice(0, eq), taint.slice(eq + 1)];
    if (!EFFECTS.includes(effect) || !isLabelKey(key) || (value !== null && !isLabelValue(value))) {
      throw new Error(`BERTH_K8S_TOLERATIONS: ${JSON.stringify(item)} is not a taint key=value:Effect or key:Effect (Effect: ${EFFECTS.join(', ')})`);
    }
    if (BERTH_OWN_KEYS.has(key)) throw new Error(`BERTH_K8S_TOLERATIONS: Berth tolerates ${key} itself, for a limited time; it cannot be set`);
    if (tolerations.some((t) => t.key === key && t.effect === effect)) throw new Error(`BERTH_K8S_TOLERATIONS names ${key}:${effect} twice`);
    tolerations.push(value === null ? { key, operator: 'Exists', effect } : { key, operator: 'Equal', value, effect });
  }
  return tolerations;
}

/** Both settings from the environment. */
export function nodeSelectionOf(env: NodeJS.ProcessEnv): NodeSelection {
  return { nodeSelector: parseNodeSelector(env.BERTH_K8S_NODE_SELECTOR), tolerations: parseTolerations(env.BERTH_K8S_TOLERATIONS) };
}

/** The pod spec fields of a selection: none at all when it is empty, so pod templates stay as they were without it. */
export function selectionSpec(selection: NodeSelection): { nodeSelector?: Record<string, string>; tolerations?: V1Toleration[] } {
  return {
    ...(Object.keys(selection.nodeSelector).length ? { nodeSelector: { ...selection.nodeSelector } } : {}),
    ...(selection.tolerations.length ? { tolerations: selection.tolerations.map((t) => ({ ...t })) } : {}),
  };
}
