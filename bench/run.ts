// `npm run bench`: Sluice, Argo Rollouts and Flagger on the same real local cluster (the e2e
// environment), the same workload for each, one controller at a time. Prints a table of figures
// and the ratio Sluice / peer; writes the raw results as JSON to bench/results/ (git-ignored).
// Not a test: nothing here passes or fails on a figure. How each figure is measured:
// docs/performance.md.
// Long file (~440 lines) on purpose: the one driver of every workload and of the table; the
// measuring pieces are in bench/lib/.
//
//   npm run bench                       sizes 1, 100, 1000
//   npm run bench -- --quick            N=10 and a small Git repository (a few minutes)
//   npm run bench -- --sizes 100 --controllers sluice,argo --workloads canary,safety
//   options: --sizes a,b  --controllers sluice,argo,flagger  --workloads canary,bluegreen,safety,gitsync
//            --bluegreen-max N (default 100)  --safety-count N (default 10)  --git-manifests N (2000)
//            --out FILE  --keep (leave the environment up at the end, until Ctrl-C)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { startEnv, type Env } from '../e2e/harness/env.ts';
import { startController, type ControllerHandle } from '../e2e/harness/controller.ts';
import { log, onShutdown, repoRoot, run } from '../e2e/harness/proc.ts';
import { auditArgs, auditMark, countRequests, type RequestCounts } from './lib/audit.ts';
import { analyseFlagger, analyseRollouts, pct, settledWorkload, timeToSafety, type RunFigures } from './lib/measure.ts';
import { buildPeers, installPeerCrds, startArgo, startFlagger, type PeerDirs } from './lib/peers.ts';
import { procSample, type ProcSample } from './lib/procstat.ts';
import { now, PATHS, record } from './lib/recorder.ts';
import { gitSyncBench, type GitSyncFigures } from './lib/gitsync.ts';
import {
  blueGreenRollout,
  canaryRollout,
  CANARY_STEPS,
  errorRateTemplate,
  flaggerCanary,
  name,
  SAFETY_STEPS,
  TRAFFIC_LABEL,
  type Controller,
} from './lib/workloads.ts';

type Obj = Record<string, any>;
type Workload = 'canary' | 'bluegreen' | 'safety';

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    controllers: { type: 'string', default: 'sluice,argo,flagger' },
    workloads: { type: 'string', default: 'canary,bluegreen,safety,gitsync' },
    'bluegreen-max': { type: 'string', default: '100' },
    'safety-count': { type: 'string', default: '10' },
    'git-manifests': { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const sizes = (opt.sizes ?? (opt.quick ? '10' : '1,100,1000'))
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const controllers = opt.controllers!.split(',') as Controller[];
const workloads = new Set(opt.workloads!.split(','));
const bgMax = Number(opt['bluegreen-max']);
const safetyCount = opt.quick ? Math.min(5, Number(opt['safety-count'])) : Number(opt['safety-count']);
const gitManifests = Number(opt['git-manifests'] ?? (opt.quick ? 200 : 2000));
const maxN = Math.max(...sizes);

/** How each controller's requests are told apart in the audit log. */
const USER_AGENT: Record<Controller, RegExp> = { sluice: /^sluice-controller/, argo: /^(rollouts-controller|argo-rollouts)/, flagger: /^flagger/ };

export interface RunResult {
  controller: Controller;
  workload: Workload;
  n: number;
  completed: number;
  wallSeconds: number;
  overhead: { samples: number; p50: number; p99: number; max: number; byCondition: Record<string, { samples: number; p50: number; p99: number }> };
  timeToSafety?: { samples: number; p50: number; max: number; values: number[] };
  cpuSeconds: number;
  cpuPerRollout: number;
  idleCpuPerMinute: number;
  rssMiB: number;
  peakRssMiB: number;
  requests: RequestCounts;
  requestsPerRollout: number;
  writesSeen: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` (cheap: it reads the recorder) until it is true; throws with `describe()` after the deadline. */
async function until(what: string, fn: () => boolean, timeoutMs: number, describe: () => string = () => ''): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what} ${describe()}`);
    await sleep(250);
  }
}

/** Runs `fn` over `items`, `width` at a time. */
async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

class Bench {
  readonly api: KubernetesObjectApi;
  readonly env: Env;
  readonly peers: PeerDirs | undefined;
  readonly auditLog: string;
  constructor(env: Env, peers: PeerDirs | undefined, auditLog: string) {
    this.env = env;
    this.peers = peers;
    this.auditLog = auditLog;
    const kc = new KubeConfig();
    kc.loadFromFile(env.descriptor.kubeconfig);
    this.api = KubernetesObjectApi.makeApiClient(kc);
  }

  get k() {
    return this.env.kubectl;
  }

  async startController(c: Controller): Promise<{ pid: number; logFile: string; stop(): Promise<void> }> {
    const d = this.env.descriptor;
    const common = { kubeconfig: d.kubeconfig, apiServer: d.server, prometheusUrl: d.prometheus.url, stateDir: d.stateDir };
    if (c === 'sluice') {
      // As in production: the emitted JavaScript (npm run bench builds it first; no type stripping
      // at start), at info level like the peers.
      const entry = join(repoRoot, 'dist', 'main.js');
      const h: ControllerHandle = await startController({
        kubeconfig: d.kubeconfig,
        stateDir: d.stateDir,
        name: 'sluice',
        // The image's memory settings (Dockerfile ENV), and SLUICE_BENCH_NODE_OPTIONS: more Node
        // options for Sluice only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
        env: {
          SLUICE_LOG_LEVEL: 'info',
          MALLOC_ARENA_MAX: '2',
          NODE_OPTIONS: ['--max-semi-space-size=2', process.env.SLUICE_BENCH_NODE_OPTIONS ?? ''].join(' ').trim(),
        },
        entry,
      });
      return { pid: h.pid(), logFile: h.logFile, stop: () => h.stop() };
    }
    if (!this.peers) throw new Error('peers not built');
    return c === 'argo' ? startArgo({ dirs: this.peers, ...common }) : startFlagger({ dirs: this.peers, ...common });
  }

  async create(objs: Obj[], ns: string): Promise<void> {
    await pool(objs, 16, (o) => this.api.create({ ...o, metadata: { ...o.metadata, namespace: ns } } as KubernetesObject));
  }

  async runWorkload(c: Controller, w: Workload, n: number): Promise<RunResult> {
    const ns = `b-${c}-${w}-${n}`;
    log('bench', `${c} ${w} N=${n}: namespace ${ns}`);
    await this.k.ok(['create', 'namespace', ns]);
    const rec = record(this.env.descriptor.kubeconfig, ns, PATHS[c]);
    await rec.ready;
    const names = Array.from({ length: n }, (_, i) => name(i));
    const objs: Obj[] = [];
    if (w === 'safety' && c !== 'flagger') objs.push(errorRateTemplate(c, ns, this.env.descriptor.prometheus.url));
    for (let i = 0; i < n; i++) {
      if (c === 'flagger') objs.push(...flaggerCanary(i));
      else if (w === 'bluegreen') objs.push(...blueGreenRollout(c, i));
      else objs.push(...canaryRollout(c, i, w === 'safety' ? SAFETY_STEPS : CANARY_STEPS, w === 'safety'));
    }
    const ctl = await this.startController(c);
    try {
      await this.create(objs, ns);
      const rollouts = rec.latest(c === 'flagger' ? 'canary' : 'rollout');
      const workloadsOf = (r: string) =>
        [...rec.latest(c === 'flagger' ? 'deployment' : 'replicaset').values()].filter(
          (o) => o.metadata.owner === r || o.metadata.name === r || o.metadata.name === `${r}-primary`,
        );
      const initialDone = (r: string) => {
        const o = rollouts.get(r);
        if (!o) return false;
        const pods = workloadsOf(r);
        if (c === 'flagger') return o.status?.phase === 'Initialized' && pods.length >= 2 && pods.every(settledWorkload);
        return o.status?.phase === 'Healthy' && Boolean(o.status?.stableRS) && pods.length > 0 && pods.every(settledWorkload);
      };
      await until(
        `${n} ${c} objects initialised`,
        () => names.every(initialDone),
        300_000 + n * 500,
        () => `(${names.filter(initialDone).length}/${n})`,
      );
      const initialHash = new Map(names.map((r) => [r, String(rollouts.get(r)?.status?.stableRS ?? '')]));
      if (w === 'safety') await this.env.traffic.setErrorRate('v3', 0.5);

      // the measured part: change every template, wait for every rollout to finish
      const image = w === 'safety' ? 'example/app:v3' : 'example/app:v2';
      const start = new Map<string, number>();
      const auditFrom = auditMark(this.auditLog);
      const cpu0 = procSample(ctl.pid);
      const t0 = now();
      await pool(names, 16, async (r) => {
        start.set(r, now());
        const container = { name: 'app', image, ports: [{ containerPort: 8080 }] };
        const body =
          c === 'flagger'
            ? { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: r, namespace: ns }, spec: { template: { spec: { containers: [container] } } } }
            : {
                apiVersion: `${c === 'sluice' ? 'sluice.dev' : 'argoproj.io'}/v1alpha1`,
                kind: 'Rollout',
                metadata: { name: r, namespace: ns },
                spec: { template: { spec: { containers: [container] } } },
              };
        await this.api.patch(body, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch);
      });
      let figures: RunFigures = { samples: [], completedAt: new Map(), writes: {} };
      let tts = new Map<string, { failedAt: number; safeAt?: number }>();
      const analyse = () => {
        figures = c === 'flagger' ? analyseFlagger(rec.events, start) : analyseRollouts(rec.events, start, initialHash);
        if (w === 'safety') tts = timeToSafety(rec.events, initialHash);
        return w === 'safety' ? names.every((r) => tts.get(r)?.safeAt !== undefined) : figures.completedAt.size === n;
      };
      let lastAnalysis = 0;
      const deadline = 600_000 + n * 2000;
      await until(
        `${n} ${c} ${w} rollouts to ${w === 'safety' ? 'be rolled back' : 'complete'}`,
        () => {
          // re-analysing the whole record is O(events): at most every 2 s
          if (now() - lastAnalysis < 2000) return false;
          lastAnalysis = now();
          return analyse();
        },
        deadline,
        () => `(${w === 'safety' ? [...tts.values()].filter((x) => x.safeAt).length : figures.completedAt.size}/${n}; log ${ctl.logFile})`,
      ).catch((err) => log('bench', (err as Error).message));
      analyse();
      const ends = w === 'safety' ? [...tts.values()].map((x) => x.safeAt ?? 0) : [...figures.completedAt.values()];
      const t1 = ends.length ? Math.max(...ends) : now();
      const cpu1 = procSample(ctl.pid);
      // steady state: the same N objects, nothing to do; CPU over 10 s and the resident memory after it
      await sleep(10_000);
      const cpu2: ProcSample = procSample(ctl.pid);
      const requests = await countRequests(auditFrom, USER_AGENT[c], t0, t1);
      if (w === 'safety') await this.env.traffic.clearErrorRate('v3');
      const completed = w === 'safety' ? [...tts.values()].filter((x) => x.safeAt !== undefined).length : figures.completedAt.size;
      const ms = figures.samples.map((s) => s.ms);
      const byCondition: RunResult['overhead']['byCondition'] = {};
      for (const cond of new Set(figures.samples.map((s) => s.cond))) {
        const xs = figures.samples.filter((s) => s.cond === cond).map((s) => s.ms);
        byCondition[cond] = { samples: xs.length, p50: pct(xs, 50), p99: pct(xs, 99) };
      }
      const ttsValues = [...tts.values()].filter((x) => x.safeAt !== undefined).map((x) => x.safeAt! - x.failedAt);
      const result: RunResult = {
        controller: c,
        workload: w,
        n,
        completed,
        wallSeconds: (t1 - t0) / 1000,
        overhead: { samples: ms.length, p50: pct(ms, 50), p99: pct(ms, 99), max: ms.length ? Math.max(...ms) : NaN, byCondition },
        ...(w === 'safety' ? { timeToSafety: { samples: ttsValues.length, p50: pct(ttsValues, 50), max: Math.max(...ttsValues), values: ttsValues } } : {}),
        cpuSeconds: cpu1.cpuSeconds - cpu0.cpuSeconds,
        cpuPerRollout: (cpu1.cpuSeconds - cpu0.cpuSeconds) / Math.max(1, completed),
        idleCpuPerMinute: ((cpu2.cpuSeconds - cpu1.cpuSeconds) / 10) * 60,
        rssMiB: cpu2.rssMiB,
        peakRssMiB: cpu2.peakRssMiB,
        requests,
        requestsPerRollout: requests.total / Math.max(1, completed),
        writesSeen: Object.fromEntries(Object.entries(figures.writes).map(([k, v]) => [k, v])),
      };
      log('bench', `${c} ${w} N=${n}: ${summary(result)}`);
      return result;
    } finally {
      rec.stop();
      await this.cleanup(c, ns, ctl);
    }
  }

  /** Deletes the workload while the controller still runs (it may hold finalizers), then the namespace. */
  async cleanup(c: Controller, ns: string, ctl: { stop(): Promise<void> }): Promise<void> {
    const kinds =
      c === 'sluice' ? 'rollouts.sluice.dev,analysisruns.sluice.dev' : c === 'argo' ? 'rollouts.argoproj.io,analysisruns.argoproj.io' : 'canaries.flagger.app';
    await this.k.run(['delete', kinds, '--all', '-n', ns, '--wait=true', '--timeout=300s'], { timeoutMs: 320_000 });
    await ctl.stop();
    await this.k.run(['delete', 'namespace', ns, '--wait=true', '--timeout=600s'], { timeoutMs: 620_000 });
  }
}

const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
function summary(r: RunResult): string {
  return (
    `completed ${r.completed}/${r.n} in ${f(r.wallSeconds, 1)}s; overhead p50 ${f(r.overhead.p50, 1)}ms p99 ` +
    `${f(r.overhead.p99, 1)}ms (${r.overhead.samples}); ` +
    (r.timeToSafety ? `time to safety p50 ${f(r.timeToSafety.p50)}ms; ` : '') +
    `CPU ${f(r.cpuSeconds, 1)}s (${f(r.cpuPerRollout, 3)}s/rollout); RSS ${f(r.rssMiB)}MiB; requests ` +
    `${r.requests.total} (${f(r.requestsPerRollout, 1)}/rollout)`
  );
}

function table(results: RunResult[], git: GitSyncFigures | undefined): string {
  const rows: string[][] = [];
  const head = [
    'workload',
    'N',
    'controller',
    'done',
    'wall s',
    'ovh p50 ms',
    'ovh p99 ms',
    'safety p50 ms',
    'CPU s',
    'CPU s/rollout',
    'RSS MiB',
    'req/rollout',
    'req by verb per rollout',
  ];
  const groups = new Map<string, RunResult[]>();
  for (const r of results) groups.set(`${r.workload}/${r.n}`, [...(groups.get(`${r.workload}/${r.n}`) ?? []), r]);
  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `x${(a / b).toFixed(2)}` : '-');
  for (const rs of groups.values()) {
    for (const r of rs) {
      const verbs = Object.entries(r.requests.byVerb)
        .sort((a, b) => b[1] - a[1])
        .map(([v, c]) => `${v} ${(c / Math.max(1, r.completed)).toFixed(1)}`)
        .join(', ');
      rows.push([
        r.workload,
        String(r.n),
        r.controller,
        `${r.completed}/${r.n}`,
        f(r.wallSeconds, 1),
        f(r.overhead.p50, 1),
        f(r.overhead.p99, 1),
        r.timeToSafety ? f(r.timeToSafety.p50) : '-',
        f(r.cpuSeconds, 1),
        f(r.cpuPerRollout, 3),
        f(r.rssMiB),
        f(r.requestsPerRollout, 1),
        verbs,
      ]);
    }
    const s = rs.find((r) => r.controller === 'sluice');
    for (const p of rs.filter((r) => r.controller !== 'sluice')) {
      if (!s) continue;
      rows.push([
        s.workload,
        String(s.n),
        `sluice/${p.controller}`,
        '',
        ratio(s.wallSeconds, p.wallSeconds),
        ratio(s.overhead.p50, p.overhead.p50),
        ratio(s.overhead.p99, p.overhead.p99),
        s.timeToSafety && p.timeToSafety ? ratio(s.timeToSafety.p50, p.timeToSafety.p50) : '-',
        ratio(s.cpuSeconds, p.cpuSeconds),
        ratio(s.cpuPerRollout, p.cpuPerRollout),
        ratio(s.rssMiB, p.rssMiB),
        ratio(s.requestsPerRollout, p.requestsPerRollout),
        '',
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === head.length - 1 ? 0 : r[i]!.length))));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  let out = [line(head), ...rows.map(line)].join('\n') + '\n';
  if (git) {
    out +=
      `\nGit sync (Sluice): commit -> applied via webhook p50 ${f(git.webhookToApplied.p50)}ms max ` +
      `${f(git.webhookToApplied.max)}ms (${git.webhookToApplied.samples} commits); ` +
      `first sync of ${git.manifests} manifests ${f(git.firstSyncSeconds, 1)}s (${git.firstSyncRequests.total} requests); ` +
      `no-op sync p50 ${f(git.noopSync.p50)}ms (${git.noopSync.samples}), ${f(git.noopRequests.total / Math.max(1, git.noopSync.samples), 1)} requests each: ` +
      `${Object.entries(git.noopRequests.byRequest)
        .map(([k, v]) => `${k} ${(v / Math.max(1, git.noopSync.samples)).toFixed(1)}`)
        .join(', ')}\n`;
  }
  return out;
}

async function machine(): Promise<Obj> {
  const cpu = (await run('bash', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2; nproc; free -g | awk '/Mem:/{print $2}'"])).stdout
    .trim()
    .split('\n');
  const git = (await run('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
  return { cpu: cpu[0]?.trim(), cores: Number(cpu[1]), memGiB: Number(cpu[2]), node: process.version, sluiceCommit: git };
}

async function main(): Promise<void> {
  const t = Date.now();
  const peers = controllers.some((c) => c !== 'sluice') ? await buildPeers() : undefined;
  const stateDir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  mkdirSync(join(stateDir, 'audit'), { recursive: true });
  const audit = auditArgs(join(stateDir, 'audit'));
  // each canary is 4 pods + 1 surge; blue-green 8 at the switch; room for a namespace still draining
  const pods = Math.max(110, Math.ceil((maxN * 10) / 2));
  let env: Env | undefined;
  onShutdown(async () => {
    await env?.stop({ keepLogs: true });
  });
  env = await startEnv({
    stateDir,
    trafficSelector: `${TRAFFIC_LABEL}=on`,
    cluster: {
      nodePods: pods,
      apiserverArgs: [...audit.args, '--max-requests-inflight=1000', '--max-mutating-requests-inflight=500'],
      // the defaults (20 qps) throttle pod creation so that wall time says nothing about the controllers
      controllerManagerArgs: ['--kube-api-qps=1000', '--kube-api-burst=2000'],
      schedulerArgs: ['--kube-api-qps=1000', '--kube-api-burst=2000'],
    },
  });
  const bench = new Bench(env, peers, audit.logFile);
  if (peers) {
    await installPeerCrds(env.kubectl, peers);
    await env.kubectl.ok(['create', 'namespace', 'argo-rollouts']);
  }
  const results: RunResult[] = [];
  let git: GitSyncFigures | undefined;
  const meta = { startedAt: new Date().toISOString(), machine: await machine(), sizes, controllers, argv: process.argv.slice(2) };
  const outFile = opt.out ?? join(repoRoot, 'bench', 'results', `bench-${meta.startedAt.replace(/[:.]/g, '-')}.json`);
  mkdirSync(join(outFile, '..'), { recursive: true });
  const save = () => writeFileSync(outFile, JSON.stringify({ ...meta, results, git }, null, 2) + '\n');
  const tryRun = async (c: Controller, w: Workload, n: number) => {
    try {
      results.push(await bench.runWorkload(c, w, n));
    } catch (err) {
      log('bench', `${c} ${w} N=${n} failed: ${(err as Error).stack ?? err}`);
    }
    save();
  };
  try {
    for (const n of sizes) {
      if (workloads.has('canary')) for (const c of controllers.filter((x) => x !== 'flagger')) await tryRun(c, 'canary', n);
      if (workloads.has('bluegreen') && n <= bgMax) for (const c of controllers) await tryRun(c, 'bluegreen', n);
    }
    if (workloads.has('safety')) for (const c of controllers.filter((x) => x !== 'flagger')) await tryRun(c, 'safety', safetyCount);
    if (workloads.has('gitsync') && controllers.includes('sluice')) {
      try {
        git = await gitSyncBench(env, audit.logFile, gitManifests);
      } catch (err) {
        log('bench', `git sync failed: ${(err as Error).stack ?? err}`);
      }
      save();
    }
    process.stdout.write(`\n${table(results, git)}\nraw results: ${outFile}\ntotal ${((Date.now() - t) / 1000 / 60).toFixed(1)} min\n`);
  } finally {
    if (opt.keep) {
      log('bench', `keeping the environment: KUBECONFIG=${env.descriptor.kubeconfig}; Ctrl-C to stop`);
      await new Promise(() => {});
    }
    await env.stop({ keepLogs: true });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    log('bench', `failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
