// The whole e2e environment in one call: cluster (or E2E_KUBECONFIG), git server,
// Prometheus, traffic helper, Sluice CRDs. Writes a JSON descriptor that test
// processes read (attach.ts) and serves a small control API so tests can ask the
// owner process to restart the apiserver or stop/start Prometheus.
import { createServer, type Server } from 'node:http';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type ClusterHandle, type ClusterOptions } from './cluster.ts';
import { startGitServer, type GitServerHandle, type GitServerInfo } from './git.ts';
import { makeKubectl, type Kubectl } from './kubectl.ts';
import { startPrometheus, type PrometheusHandle } from './prometheus.ts';
import { freePort, log, onShutdown, repoRoot, stopAll, type ManagedProcess } from './proc.ts';
import { startTraffic, type TrafficHandle } from './traffic.ts';
import { startAlertmanager, startWebhookReceiver, type AlertmanagerHandle, type WebhookHandle } from './alerts.ts';

/** Written to `${stateDir}/env.json`; E2E_ENV points test processes at it. */
export interface EnvDescriptor {
  version: 1;
  createdAt: string;
  /** pid of the process that owns (and will stop) the environment. */
  ownerPid: number;
  repoRoot: string;
  stateDir: string;
  logsDir: string;
  kubeconfig: string;
  /** True when the cluster came from E2E_KUBECONFIG. */
  external: boolean;
  server: string;
  nodes: string[];
  prometheus: { url: string; targetsDir: string; rulesDir: string; alertmanagersDir: string };
  traffic: { url: string; target: string };
  /** Records every request; Alertmanager posts to `${url}/alertmanager`. */
  webhook: { url: string };
  /** Prometheus sends its alerts here. */
  alertmanager: { url: string };
  git: GitServerInfo;
  /** The owner's control API: POST /apiserver/restart, /prometheus/stop, /prometheus/start. */
  control: { url: string };
  /** CRD files applied from crds/ (empty when crds/ had none). */
  crds: string[];
  processes: Array<{ name: string; pid: number; logFile: string }>;
}

export interface Env {
  descriptor: EnvDescriptor;
  descriptorPath: string;
  cluster: ClusterHandle;
  git: GitServerHandle;
  prometheus: PrometheusHandle;
  traffic: TrafficHandle;
  webhook: WebhookHandle;
  alertmanager: AlertmanagerHandle;
  kubectl: Kubectl;
  /** Seconds it took to start. */
  startSeconds: number;
  /** Stops everything; removes the state dir unless `keepStateDir` (logs are kept when `keepLogs`). */
  stop(opts?: { keepLogs?: boolean; keepStateDir?: boolean }): Promise<{ logsKeptAt?: string }>;
}

export interface EnvOptions {
  /** Default: a new temp dir (or $E2E_STATE_DIR when set). */
  stateDir?: string;
  /** Fake kwok Nodes (default 2). */
  nodes?: number;
  /** Simulated requests per second per Ready pod (default 10). */
  rps?: number;
  /** Apply crds/ (default true). */
  installCrds?: boolean;
  /** Only pods that also match these label selector terms get simulated traffic (default: all). */
  trafficSelector?: string;
  /** Extra cluster settings (kwok Node pod capacity, component flags): the benchmark's knobs. */
  cluster?: Pick<ClusterOptions, 'nodePods' | 'apiserverArgs' | 'controllerManagerArgs' | 'schedulerArgs'>;
}

async function installCrds(k: Kubectl): Promise<string[]> {
  const dir = join(repoRoot, 'crds');
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /\.(ya?ml|json)$/.test(f))
        .sort()
    : [];
  if (files.length === 0) {
    log('crds', 'crds/ has no files: nothing to install');
    return [];
  }
  await k.ok(['apply', '--server-side', '--force-conflicts', '--field-manager=sluice-e2e', '-f', dir]);
  await k.ok(['wait', '--for=condition=Established', '--timeout=60s', '-f', dir]);
  log('crds', `installed ${files.length} file(s) from crds/: ${files.join(', ')}`);
  return files;
}

function startControlServer(env: () => Env | undefined, port: number): Promise<Server> {
  const server = createServer(async (req, res) => {
    const e = env();
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body) + '\n');
    };
    if (!e) return reply(503, { error: 'environment not ready' });
    try {
      const route = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`;
      switch (route) {
        case 'GET /descriptor':
          return reply(200, e.descriptor);
        case 'POST /apiserver/restart':
          await e.cluster.restartApiserver();
          return reply(200, { ok: true });
        case 'POST /prometheus/stop':
          await e.prometheus.stop();
          log('prometheus', 'stopped (control API)');
          return reply(200, { ok: true });
        case 'POST /prometheus/start':
          await e.prometheus.start();
          return reply(200, { ok: true });
        default:
          return reply(404, { error: `no route ${route}` });
      }
    } catch (err) {
      return reply(500, { error: (err as Error).message });
    }
  });
  return new Promise((res, rej) => {
    server.on('error', rej);
    server.listen(port, '127.0.0.1', () => res(server));
  });
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/** Like Promise.all, but waits for every promise to settle before rejecting (nothing left starting). */
async function settleAll<T extends readonly unknown[]>(ps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const rs = await Promise.allSettled(ps);
  const failed = rs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return rs.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Starts everything, in dependency order and in parallel where possible. */
export async function startEnv(opts: EnvOptions = {}): Promise<Env> {
  const t0 = Date.now();
  const stateDir = opts.stateDir ?? process.env.E2E_STATE_DIR ?? mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
  mkdirSync(join(stateDir, 'logs'), { recursive: true });
  log('env', `state dir ${stateDir}`);

  let env: Env | undefined;
  // Ctrl-C while starting: stop what runs, then remove the state dir (once
  // started, the owner's env.stop() does this)
  onShutdown(async () => {
    if (env) return;
    await stopAll(3000);
    rmSync(stateDir, { recursive: true, force: true });
  });
  const started: Array<{ stop(): Promise<unknown> }> = [];
  const controlPort = await freePort();
  const control = await startControlServer(() => env, controlPort);
  started.push({ stop: () => new Promise((r) => control.close(() => r(undefined))) });
  control.unref();

  try {
    // The traffic helper needs the cluster; Prometheus only needs its address.
    const trafficPort = await freePort();
    const [cluster, git, prometheus, { webhook, alertmanager }] = await settleAll([
      startCluster({ stateDir, nodes: opts.nodes, ...opts.cluster }).then((c) => (started.push(c), c)),
      startGitServer({ stateDir }).then((g) => (started.push(g), g)),
      startPrometheus({ stateDir, trafficTargets: [`127.0.0.1:${trafficPort}`] }).then((p) => (started.push(p), p)),
      startWebhookReceiver({ stateDir }).then(async (webhook) => {
        started.push(webhook);
        const alertmanager = await startAlertmanager({ stateDir, webhookUrl: webhook.url });
        started.push(alertmanager);
        return { webhook, alertmanager };
      }),
    ]);
    prometheus.addAlertmanager('e2e', alertmanager.target);
    const kubectl = makeKubectl(cluster.kubeconfig);
    const [traffic, crds] = await settleAll([
      startTraffic({
        kubeconfig: cluster.kubeconfig,
        stateDir,
        port: trafficPort,
        rps: opts.rps,
        ...(opts.trafficSelector ? { extraSelector: opts.trafficSelector } : {}),
      }).then((t) => (started.push(t), t)),
      opts.installCrds === false || truthy(process.env.E2E_SKIP_CRDS) ? Promise.resolve([] as string[]) : installCrds(kubectl),
    ]);

    const procs = (): ManagedProcess[] => [...cluster.processes(), git.process, prometheus.process(), webhook.process, alertmanager.process, traffic.process];
    const descriptor: EnvDescriptor = {
      version: 1,
      createdAt: new Date().toISOString(),
      ownerPid: process.pid,
      repoRoot,
      stateDir,
      logsDir: join(stateDir, 'logs'),
      kubeconfig: cluster.kubeconfig,
      external: cluster.external,
      server: cluster.server,
      nodes: cluster.nodes,
      prometheus: {
        url: prometheus.url,
        targetsDir: prometheus.targetsDir,
        rulesDir: prometheus.rulesDir,
        alertmanagersDir: prometheus.alertmanagersDir,
      },
      traffic: { url: traffic.url, target: traffic.target },
      webhook: { url: webhook.url },
      alertmanager: { url: alertmanager.url },
      git: { url: git.url, reposDir: git.reposDir, workDir: git.workDir, configFile: git.configFile },
      control: { url: `http://127.0.0.1:${controlPort}` },
      crds,
      processes: procs().map((p) => ({ name: p.name, pid: p.pid, logFile: p.logFile })),
    };
    const descriptorPath = join(stateDir, 'env.json');
    writeFileSync(descriptorPath, JSON.stringify(descriptor, null, 2) + '\n');
    const startSeconds = (Date.now() - t0) / 1000;
    log('env', `ready in ${startSeconds.toFixed(1)}s; descriptor ${descriptorPath}`);

    // one stop, whoever asks first (the runner's main path and its SIGINT hook can both ask)
    let stopping: Promise<{ logsKeptAt?: string }> | undefined;
    env = {
      descriptor,
      descriptorPath,
      cluster,
      git,
      prometheus,
      traffic,
      webhook,
      alertmanager,
      kubectl,
      startSeconds,
      stop(o = {}) {
        stopping ??= doStop(o);
        return stopping;
      },
    };
    const doStop = async (o: { keepLogs?: boolean; keepStateDir?: boolean }) => {
      const t = Date.now();
      for (const s of [...started].reverse()) {
        try {
          await s.stop();
        } catch (err) {
          log('env', `stop failed: ${(err as Error).message}`);
        }
      }
      let logsKeptAt: string | undefined;
      if (o.keepStateDir) {
        logsKeptAt = join(stateDir, 'logs');
      } else {
        if (o.keepLogs) {
          logsKeptAt = mkdtempSync(join(tmpdir(), 'sluice-e2e-logs-'));
          cpSync(join(stateDir, 'logs'), logsKeptAt, { recursive: true });
        }
        rmSync(stateDir, { recursive: true, force: true });
      }
      log('env', `stopped in ${((Date.now() - t) / 1000).toFixed(1)}s${logsKeptAt ? `; logs kept in ${logsKeptAt}` : ''}`);
      return { logsKeptAt };
    };
    return env;
  } catch (err) {
    const first = (err as Error).message.split('\n')[0] ?? '';
    log('env', `start failed: ${first.length > 300 ? `${first.slice(0, 300)}…` : first}; stopping what was started`);
    for (const s of [...started].reverse()) await s.stop().catch(() => {});
    const keptAt = mkdtempSync(join(tmpdir(), 'sluice-e2e-logs-'));
    if (existsSync(join(stateDir, 'logs'))) cpSync(join(stateDir, 'logs'), keptAt, { recursive: true });
    rmSync(stateDir, { recursive: true, force: true });
    log('env', `logs kept in ${keptAt}`);
    throw err;
  }
}
