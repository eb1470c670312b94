// `npm run e2e`: installs the Debian dependencies (if missing), starts the e2e
// environment, runs the scenarios with node's test runner in a child process,
// tears everything down (also on failure, SIGINT and SIGTERM) and exits with
// the tests' exit code.
//
//   node e2e/run.ts                         all scenarios (e2e/scenarios/**/*.test.ts)
//   node e2e/run.ts e2e/scenarios/x.test.ts some scenarios
//   node e2e/run.ts up                      start the environment and keep it until Ctrl-C
//   E2E_ENV=/tmp/…/env.json node e2e/run.ts run the scenarios against a running environment
//   E2E_KEEP=1 node e2e/run.ts              keep the environment after the tests, until Ctrl-C
//   E2E_KUBECONFIG=~/.kube/config …         use that cluster instead of building one
import { spawn } from 'node:child_process';
import { join, relative } from 'node:path';
import { startEnv, type Env } from './harness/env.ts';
import { log, nodeBin, onShutdown, repoRoot, run } from './harness/proc.ts';

const DEFAULT_PATTERN = 'e2e/scenarios/**/*.test.ts';

function truthy(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

async function setupDeps(): Promise<void> {
  const r = await run('bash', [join(repoRoot, 'e2e', 'setup-deps.sh')], { timeoutMs: 15 * 60_000 });
  if (r.stderr.trim()) process.stderr.write(r.stderr.endsWith('\n') ? r.stderr : `${r.stderr}\n`);
  if (r.code !== 0) throw new Error(`e2e/setup-deps.sh exited ${r.code}`);
}

function waitForever(): Promise<never> {
  // the shutdown handlers (SIGINT/SIGTERM) stop everything and exit
  return new Promise(() => setInterval(() => {}, 1 << 30));
}

function printAttachHelp(env: Env): void {
  const d = env.descriptor;
  process.stderr.write(
    `\nEnvironment is up. In another shell:\n` +
      `  export E2E_ENV=${env.descriptorPath}\n` +
      `  export KUBECONFIG=${d.kubeconfig}\n` +
      `  node --test e2e/scenarios/cluster-smoke.test.ts      # or: node e2e/run.ts (uses E2E_ENV)\n` +
      `Prometheus ${d.prometheus.url}  traffic ${d.traffic.url}  git ${d.git.url}\n` +
      `Logs in ${d.logsDir}\nPress Ctrl-C to stop everything.\n\n`,
  );
}

/** Runs node's test runner in its own process group; resolves with its exit code. */
function runTests(files: string[], descriptorPath: string): { done: Promise<number>; stop: () => Promise<void> } {
  const args = [
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    '--test-force-exit',
    `--test-timeout=${process.env.E2E_TEST_TIMEOUT_MS ?? 15 * 60_000}`,
    ...(files.length ? files : [DEFAULT_PATTERN]),
  ];
  log('run', `node ${args.join(' ')}`);
  const child = spawn(nodeBin, args, {
    cwd: repoRoot,
    env: { ...process.env, E2E_ENV: descriptorPath },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  let exited = false;
  const done = new Promise<number>((res) => {
    child.on('exit', (code, signal) => {
      exited = true;
      res(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
    child.on('error', (err) => {
      exited = true;
      log('run', `could not start the test runner: ${err.message}`);
      res(1);
    });
  });
  const stop = async () => {
    if (exited || child.pid === undefined) return;
    const pid = child.pid;
    log('run', 'stopping the test runner');
    try {
      process.kill(-pid, 'SIGINT');
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, 10_000);
    await done;
    clearTimeout(t);
  };
  return { done, stop };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const up = argv[0] === 'up';
  const files = (up ? argv.slice(1) : argv).map((f) => relative(repoRoot, f) || f);

  // Tests against an environment somebody else owns.
  if (!up && process.env.E2E_ENV) {
    log('run', `using the running environment ${process.env.E2E_ENV}`);
    const tests = runTests(files, process.env.E2E_ENV);
    onShutdown(tests.stop);
    return tests.done;
  }

  await setupDeps();
  let env: Env | undefined;
  onShutdown(async () => {
    await env?.stop({ keepLogs: true });
  });
  try {
    env = await startEnv();
  } catch (err) {
    log('run', `the environment did not start:\n${(err as Error).message}`);
    return 1;
  }
  if (up) {
    printAttachHelp(env);
    return waitForever();
  }

  const t0 = Date.now();
  const tests = runTests(files, env.descriptorPath);
  onShutdown(tests.stop);
  const code = await tests.done;
  const testSeconds = (Date.now() - t0) / 1000;
  if (truthy(process.env.E2E_KEEP)) {
    log('run', `tests exited ${code} after ${testSeconds.toFixed(1)}s; E2E_KEEP is set: keeping the environment`);
    printAttachHelp(env);
    return waitForever();
  }
  const t1 = Date.now();
  const { logsKeptAt } = await env.stop({ keepLogs: code !== 0 });
  log(
    'run',
    `env start ${env.startSeconds.toFixed(1)}s, tests ${testSeconds.toFixed(1)}s, ` +
      `teardown ${((Date.now() - t1) / 1000).toFixed(1)}s; exit ${code}` +
      (logsKeptAt ? `; logs in ${logsKeptAt}` : ''),
  );
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    log('run', `failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
