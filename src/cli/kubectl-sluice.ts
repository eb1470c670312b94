#!/usr/bin/env node
// The kubectl plugin: kubectl finds this executable as kubectl-sluice on the PATH and runs it for
// `kubectl sluice …`. Real streams, clock, environment and cluster connection; the rest is program.ts.
import { connect } from './connect.ts';
import { main } from './program.ts';
import { VERSION } from '../version.ts';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`error: kubectl-sluice needs Node.js 24 or newer; this is Node.js ${process.versions.node} (${process.execPath})\n`);
  process.exit(3);
}

const controller = new AbortController();
let interrupts = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    controller.abort();
  });
}

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  now: () => new Date(),
  connect: (flags) => connect(flags, `kubectl-sluice/${VERSION}`),
  signal: controller.signal,
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  fetchText: async (url) => {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.text();
  },
});
process.exitCode = code;
