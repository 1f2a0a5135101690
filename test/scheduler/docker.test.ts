// The scheduler conformance suite against the Docker scheduler (Berth's own rollout on the local engine).
import { execFileSync } from 'node:child_process';
import { schedulerConformance } from './conformance.case.ts';

schedulerConformance({
  name: 'docker',
  serverEnv: async () => ({}),
  // Every container of the app, one-offs included (they carry berth.app too).
  rolloutLine: /web\.1 is healthy/,
  leftovers: async (app) => execFileSync('docker', ['ps', '-aq', '--filter', `label=berth.app=${app}`], { encoding: 'utf8' })
    .split('\n').filter(Boolean).map((id) => `container/${id}`), // each app is routed to its DNS name (src/router/dnsmasq)
});
