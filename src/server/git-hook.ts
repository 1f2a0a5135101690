// Git's pre-receive hook on its own (src/git/hook.ts), for the server from sources (`node src/server/git-hook.ts`)
// and from the bundle (dist/git-hook.mjs, made by scripts/build.mjs beside dist/berth-server.mjs). It loads only
// the hook's few modules, not the server: one starts for every push. dist/berth has its own fast path
// (src/executable/launcher.ts). The server picks it with hookCommand() (src/executable/self.ts).
import { runPreReceiveHook } from '../git/hook.ts';

await runPreReceiveHook();
