// The peer controllers: built by bench/peers/build.sh (Go module proxy -> ~/.cache/sluice),
// their CRDs installed server-side, each started in a network namespace of its own with
// loopback relays to the API server and Prometheus (lib/relay.ts says why).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Kubectl } from '../../e2e/harness/kubectl.ts';
import { log, nodeBin, repoRoot, startProcess, type ManagedProcess } from '../../e2e/harness/proc.ts';
import { relayOut } from './relay.ts';

export interface PeerDirs {
  argo: string;
  flagger: string;
}

/** Runs bench/peers/build.sh (a no-op when the cache is warm), streaming its progress lines. */
export function buildPeers(): Promise<PeerDirs> {
  return new Promise((res, rej) => {
    const child = spawn('bash', [join(repoRoot, 'bench', 'peers', 'build.sh')], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const dirs: Record<string, string> = {};
    const tail: string[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => {
      const [k, v] = l.trim().split(' ');
      if (k && v) dirs[k] = v;
    });
    createInterface({ input: child.stderr }).on('line', (l) => {
      tail.push(l);
      if (tail.length > 40) tail.shift();
      process.stderr.write(`${l}\n`);
    });
    child.on('error', rej);
    child.on('close', (code) => {
      const argo = dirs['argo-rollouts'];
      const flagger = dirs['flagger'];
      if (code === 0 && argo && flagger) res({ argo, flagger });
      else rej(new Error(`bench/peers/build.sh exited ${code}:\n${tail.join('\n')}`));
    });
  });
}

/** Argo's CRDs are too large for a client-side apply's last-applied annotation: server-side. */
export async function installPeerCrds(k: Kubectl, dirs: PeerDirs): Promise<void> {
  for (const dir of [join(dirs.argo, 'crds'), join(dirs.flagger, 'crds')]) {
    await k.ok(['apply', '--server-side', '--force-conflicts', '--field-manager=sluice-bench', '-f', dir], { timeoutMs: 120_000 });
    await k.ok(['wait', '--for=condition=Established', '--timeout=60s', '-f', dir], { timeoutMs: 90_000 });
  }
  log('peers', 'Argo Rollouts and Flagger CRDs installed');
}

export interface PeerProcess {
  name: string;
  logFile: string;
  /** pid of the controller itself (unshare and bash exec into it). */
  pid: number;
  proc: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts `bin args` in a new network namespace where 127.0.0.1:<port> for each of `ports`
 * reaches the same port outside. Resolves once the relays inside are up.
 */
export async function startInNetns(o: {
  name: string;
  bin: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  ports: number[];
  stateDir: string;
}): Promise<PeerProcess> {
  const dir = join(o.stateDir, `netns-${o.name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out = await relayOut(dir, o.ports);
  const ready = join(dir, 'relay.ready');
  // bash: bring lo up, start the inside relays, wait (bounded) for them, then exec the controller
  const script =
    'ip link set lo up || exit 1; "$0" "$BENCH_RELAY" "$BENCH_DIR" "$BENCH_READY" $BENCH_PORTS & ' +
    'for i in $(seq 1 100); do [ -f "$BENCH_READY" ] && break; sleep 0.1; done; ' +
    '[ -f "$BENCH_READY" ] || { echo "relay did not start" >&2; exit 1; }; exec "$@"';
  const logFile = join(o.stateDir, 'logs', `${o.name}.log`);
  const proc = startProcess({
    name: o.name,
    cmd: 'unshare',
    args: ['--net', '--', 'bash', '-c', script, nodeBin, o.bin, ...o.args],
    env: {
      ...process.env,
      ...o.env,
      BENCH_RELAY: join(repoRoot, 'bench', 'lib', 'relay.ts'),
      BENCH_DIR: dir,
      BENCH_READY: ready,
      BENCH_PORTS: o.ports.join(' '),
    },
    logFile,
    append: true, // one log per peer across the runs
  });
  const deadline = Date.now() + 15_000;
  while (!existsSync(ready)) {
    if (!proc.isRunning() || Date.now() > deadline) {
      await proc.stop(2000);
      await out.close();
      throw new Error(`${o.name}: the network namespace relays did not start (see ${logFile})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  log(o.name, `started pid ${proc.pid} in its own network namespace (log ${logFile})`);
  return {
    name: o.name,
    logFile,
    pid: proc.pid,
    proc,
    async stop() {
      await proc.stop(10_000);
      await out.close();
    },
  };
}

const portOf = (url: string) => Number(new URL(url).port);

export function startArgo(o: { dirs: PeerDirs; kubeconfig: string; apiServer: string; prometheusUrl: string; stateDir: string }): Promise<PeerProcess> {
  return startInNetns({
    name: 'argo-rollouts',
    bin: join(o.dirs.argo, 'bin', 'rollouts-controller'),
    // defaults otherwise (qps 40, burst 80, 10 rollout threads, 30 analysis threads), as a user gets them
    args: [`--kubeconfig=${o.kubeconfig}`, '--leader-elect=false', '--loglevel=info', '--logformat=json'],
    env: { POD_NAMESPACE: 'argo-rollouts' },
    ports: [portOf(o.apiServer), portOf(o.prometheusUrl)],
    stateDir: o.stateDir,
  });
}

export function startFlagger(o: { dirs: PeerDirs; kubeconfig: string; apiServer: string; prometheusUrl: string; stateDir: string }): Promise<PeerProcess> {
  return startInNetns({
    name: 'flagger',
    bin: join(o.dirs.flagger, 'bin', 'flagger'),
    // kubernetes provider: blue-green by switching plain Services; defaults otherwise
    // (qps 100, burst 250, threadiness 2, control loop 10s)
    args: [
      `-kubeconfig=${o.kubeconfig}`,
      '-mesh-provider=kubernetes',
      `-metrics-server=${o.prometheusUrl}`,
      '-log-level=info',
      '-enable-leader-election=false',
    ],
    ports: [portOf(o.apiServer), portOf(o.prometheusUrl)],
    stateDir: o.stateDir,
  });
}
