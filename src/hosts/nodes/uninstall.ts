// hosts:remove of a k3s agent that hosts:add installed: the agent taken off the machine over SSH, after its Node
// left the cluster. The official install script leaves its own uninstaller; Berth's air-gapped install (its own
// service definition) is undone file by file. Run by the installer's task runner, so a second run says `ok`.
import type { Task } from '../../../installer/task.ts';
import { K3S_BIN, LAUNCHER, pidFile, unitPath } from '../../../installer/k3s/commands.ts';
import { hostAnswersTask } from '../../../installer/tasks/host-answers.ts';

const UNINSTALLER = '/usr/local/bin/k3s-agent-uninstall.sh';
const DATA = ['/etc/rancher/k3s', '/var/lib/rancher/k3s'];

export function k3sAgentUninstallTasks(): Task[] {
  return [
    hostAnswersTask(), // the checks below read a failed command as "not installed"
    {
      name: `k3s agent removed by its uninstaller (${UNINSTALLER})`,
      async check(ctx) {
        return (await ctx.run(`test -e ${UNINSTALLER}`, { allowFail: true })).code !== 0;
      },
      async apply(ctx) {
        await ctx.run(UNINSTALLER);
      },
    },
    {
      name: `k3s agent service, binary and data gone (${K3S_BIN})`,
      hint: 'stop the k3s-agent service on the host and remove the files named in this task by hand.',
      async check(ctx) {
        return (await ctx.run(`test -e ${K3S_BIN} || test -e ${unitPath('agent')} || test -e ${LAUNCHER}`, { allowFail: true })).code !== 0;
      },
      async apply(ctx) {
        await ctx.run([
          `if test -d /run/systemd/system; then systemctl disable --now k3s-agent 2>/dev/null || true; fi`,
          `if test -s ${pidFile('agent')}; then kill "$(cat ${pidFile('agent')})" 2>/dev/null || true; fi`,
          `rm -rf ${[unitPath('agent'), LAUNCHER, K3S_BIN, pidFile('agent'), ...DATA].join(' ')}`,
        ].join('\n'));
      },
    },
  ];
}
