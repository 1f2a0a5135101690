// Kubernetes' rules for label (and taint) keys and values: one home for the installer's node labels and taints
// (kubelet/config.ts) and the scheduler's node selection (src/scheduler/kubernetes/node-selection.ts).

const NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** A label (or taint) key: `[prefix/]name`, the prefix a DNS subdomain of at most 253 characters, the name 1-63. */
export function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash === -1) return NAME.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix) && NAME.test(key.slice(slash + 1));
}

/** A label (or taint) value: empty, or 1-63 letters, digits, `-_.`, starting and ending with a letter or digit. */
export const isLabelValue = (value: string): boolean => value === '' || NAME.test(value);
