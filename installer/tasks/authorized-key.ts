// Berth's own SSH key authorized for the login user, so later runs (hosts:remove's uninstall) log in with it after
// hosts:add logged in once with the operator's key (--ssh-key). The key is one line of `ssh-keygen`'s public
// format, checked before it reaches the host's file.
import type { Task } from '../task.ts';
import { shq } from '../files.ts';

const PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( [A-Za-z0-9@._-]*)?$/;
const USER = /^[A-Za-z0-9._-]+$/;

export function authorizedKeyTask(user: string, publicKey: string): Task {
  if (!PUBLIC_KEY.test(publicKey)) throw new Error('Berth\'s public key is not one ssh-keygen line');
  if (!USER.test(user)) throw new Error(`${JSON.stringify(user)} is not a user name`);
  const file = `"$(getent passwd ${shq(user)} | cut -d: -f6)/.ssh/authorized_keys"`;
  return {
    name: `Berth's SSH key authorized for ${user} (hosts:remove logs in with it)`,
    async check(ctx) { return (await ctx.run(`grep -qxF ${shq(publicKey)} ${file}`, { allowFail: true })).code === 0; },
    async apply(ctx) {
      await ctx.run(`f=${file}; d=$(dirname "$f"); mkdir -p "$d" && chmod 700 "$d" && printf '%s\\n' ${shq(publicKey)} >> "$f" && chmod 600 "$f" ` +
        `&& chown -R ${shq(user)}: "$d"`);
    },
  };
}
