// `berth run` end to end on the Docker scheduler (the cases are in run.case.ts).
import { execFileSync } from 'node:child_process';
import { runSuite } from './run.case.ts';

runSuite({
  name: 'docker',
  serverEnv: async () => ({}),
  oneOffs: async (app) => execFileSync('docker', ['ps', '-aq', '--filter', `label=berth.app=${app}`, '--filter', 'label=berth.oneoff=1'], { encoding: 'utf8' })
    .split('\n').filter(Boolean),
  orphanLine: (app) => new RegExp(`reconcile: removed one-off berth-${app}-v\\d+-run-1-[a-z0-9]+ \\(docker\\)`),
});
