#!/usr/bin/env node
// kubectl_complete-sluice: kubectl runs this (found on the PATH) to complete `kubectl sluice …`
// with the words typed after "sluice", the last one being the word to complete.
import { connect } from './connect.ts';
import { main } from './program.ts';
import { VERSION } from '../version.ts';

process.exitCode = await main(['__complete', ...process.argv.slice(2)], {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  now: () => new Date(),
  connect: (flags) => connect(flags, `kubectl-sluice/${VERSION}`),
});
