// Debian packages a role needs, installed with apt where any is missing.
import type { Task } from '../task.ts';

export function packagesTask(packages: string[]): Task {
  return {
    name: `packages installed (${packages.join(', ')})`,
    hint: 'apt could not install the packages: check /etc/apt/sources.list and that the host reaches its package mirror (apt-get update on the host shows why).',
    async check(ctx) {
      const out = await ctx.run(`dpkg-query -W -f='\${Status}\\n' ${packages.join(' ')}`, { allowFail: true });
      const installed = out.stdout.split('\n').filter((line) => line.trim() === 'install ok installed');
      return out.code === 0 && installed.length === packages.length;
    },
    async apply(ctx) {
      // --error-on=any: an unreachable source fails here, where the output names it, not later as "no such package".
      await ctx.run('apt-get update -q --error-on=any');
      await ctx.run(`DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${packages.join(' ')}`);
    },
  };
}
