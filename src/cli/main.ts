#!/usr/bin/env node
// berth, the CLI (src/cli/run.ts has the commands). dist/berth runs the same code from src/executable/main.ts.
import { runCli } from './run.ts';

process.exitCode = await runCli(process.argv.slice(2));
