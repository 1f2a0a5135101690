// hosts:remove of a Docker host an older Berth ran instances on over SSH (role 'docker', now retired): the
// containers this installation started there (label berth.owner=<installation id>) are removed with Berth's key.
// Docker itself stays installed. A host without Docker, or one that does not answer, fails this task's line; the
// record is dropped all the same (service.ts), since nothing Berth runs depends on that host any more.
import type { Task } from '../../installer/task.ts';
import { shellQuote } from '../../installer/ssh.ts';
import { LABEL } from '../runtime/docker/labels.ts';

export function retiredDockerHostTasks(owner: string): Task[] {
  const label = `${LABEL.owner}=${owner}`;
  const list = `docker ps -aq --filter ${shellQuote(`label=${label}`)}`;
  return [{
    name: `containers Berth started here removed (label ${label})`,
    hint: `with no Docker on the host (or no answer from it) nothing of Berth's runs there; otherwise remove the containers labelled ${label} by hand.`,
    async check(ctx) {
      return (await ctx.run(list)).stdout.trim() === '';
    },
    async apply(ctx) {
      await ctx.run(`${list} | xargs -r docker rm -f`);
    },
  }];
}
