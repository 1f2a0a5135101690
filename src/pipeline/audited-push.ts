// Wraps the push handler so every push lands in the audit trail with its outcome.
import type { PushHandler } from '../git/types.ts';
import type { AuditStore } from '../state/audit-store.ts';

/** Every push lands in the audit trail with its outcome, like the API's changes do. */
export function auditedPushes(audit: AuditStore, handler: PushHandler): PushHandler {
  return async (push) => {
    const refs = push.updates.map((u) => `${u.ref.replace('refs/heads/', '')} ${u.newSha.slice(0, 7)}`).join(', ');
    let accepted = false;
    try {
      accepted = await handler(push);
      return accepted;
    } finally {
      audit.record({ actor: push.user, action: 'git push', app: push.app, status: accepted ? 200 : 422, detail: `${refs}${accepted ? '' : ' (rejected)'}` });
    }
  };
}
