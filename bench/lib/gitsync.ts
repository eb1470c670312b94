// Git sync figures (Sluice only; the peers have no Git sync of their own): a commit applied
// through the push webhook, and a sync of a large repository where nothing changed.
import { dump } from 'js-yaml';
import type { Env } from '../../e2e/harness/env.ts';
import { startController } from '../../e2e/harness/controller.ts';
import { cloneRepo, createRepo } from '../../e2e/harness/git.ts';
import { gitSyncAccess, hmacSignature, postHook, syncNow } from '../../e2e/harness/gitops.ts';
import { freePort, log } from '../../e2e/harness/proc.ts';
import { join } from 'node:path';
import { auditMark, countRequests, type RequestCounts } from './audit.ts';
import { pct } from './measure.ts';
import { procSample } from './procstat.ts';
import { now, record } from './recorder.ts';

type Obj = Record<string, any>;

export interface Stat {
  samples: number;
  p50: number;
  max: number;
  values: number[];
}
export interface GitSyncFigures {
  manifests: number;
  webhookToApplied: Stat;
  firstSyncSeconds: number;
  firstSyncRequests: RequestCounts;
  noopSync: Stat;
  noopRequests: RequestCounts;
  noopCpuSeconds: number;
  rssMiB: number;
}

const stat = (values: number[]): Stat => ({ samples: values.length, p50: pct(values, 50), max: Math.max(...values), values });
const yaml = (...objs: Obj[]) => objs.map((o) => dump(o)).join('---\n');
const TOKEN = 'bench-webhook-token';

function webFiles(i: number): Record<string, string> {
  const svc = (n: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: n }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } });
  const rollout = {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: `example/app:v${i}` }] } },
      strategy: { canary: { stableService: 'web-stable', canaryService: 'web-canary', steps: [] } },
    },
  };
  return { 'apps/web.yaml': yaml(svc('web-stable'), svc('web-canary'), rollout) };
}

async function until(what: string, fn: () => boolean, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return now();
}

export async function gitSyncBench(env: Env, auditLog: string, manifests: number): Promise<GitSyncFigures> {
  const d = env.descriptor;
  const k = env.kubectl;
  const ns = 'b-gitsync';
  const hookPort = await freePort();
  const hookUrl = `http://127.0.0.1:${hookPort}`;
  const ctl = await startController({
    kubeconfig: d.kubeconfig,
    stateDir: d.stateDir,
    name: 'sluice-gitsync',
    env: { SLUICE_LOG_LEVEL: 'info', SLUICE_WEBHOOK_ADDR: `127.0.0.1:${hookPort}`, SLUICE_GIT_CACHE_DIR: join(d.stateDir, 'bench-git-cache') },
  });
  await k.ok(['create', 'namespace', ns]);
  const rec = record(d.kubeconfig, ns, {
    rollout: '/apis/sluice.dev/v1alpha1/namespaces/{ns}/rollouts',
    gitsync: '/apis/sluice.dev/v1alpha1/namespaces/{ns}/gitsyncs',
  });
  await rec.ready;
  const gs = (n: string) => rec.latest('gitsync').get(n);
  try {
    await k.apply(yaml({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook' }, stringData: { token: TOKEN } }), { namespace: ns });
    // A GitSync applies as a ServiceAccount of its namespace: grant it what the repositories hold.
    await k.apply(yaml(...gitSyncAccess()), { namespace: ns });

    // 1. commit -> applied, through the signed push webhook
    const web = await createRepo(env.git, 'bench-web', { files: webFiles(1), message: 'v1' });
    const wc = await cloneRepo(env.git, web);
    const gitSync = (n: string, url: string, extra: Obj = {}) => ({
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'GitSync',
      metadata: { name: n },
      spec: { url, ref: { branch: 'main' }, paths: ['apps'], interval: '10m', ...extra },
    });
    await k.apply(yaml(gitSync('web', web.httpUrl, { webhook: { secretRef: { name: 'hook' } } })), { namespace: ns });
    const sha1 = await wc.head();
    await until('first sync of bench-web', () => gs('web')?.status?.lastSyncedCommit === sha1, 120_000);
    const hook: number[] = [];
    for (let i = 2; i <= 6; i++) {
      const sha = await wc.commitAndPush(`v${i}`, webFiles(i));
      const body = JSON.stringify({ reason: 'bench', commit: sha });
      const t0 = now();
      const r = await postHook(hookUrl, ns, 'web', body, { 'X-Sluice-Signature-256': hmacSignature(body, TOKEN) });
      if (r.status !== 202) throw new Error(`webhook answered ${r.status}: ${r.body}`);
      const t1 = await until(`v${i} applied`, () => rec.latest('rollout').get('web')?.spec?.image === `example/app:v${i}`, 60_000);
      await until(`v${i} synced`, () => gs('web')?.status?.lastSyncedCommit === sha, 60_000);
      hook.push(t1 - t0);
    }
    log('bench', `git: commit -> applied through the webhook ${hook.map((x) => x.toFixed(0)).join(', ')} ms`);

    // 2. a repository of `manifests` ConfigMaps: the first sync, then syncs where nothing changed
    const files: Record<string, string> = {};
    for (let i = 0; i < manifests; i++) {
      const n = `cm-${String(i).padStart(4, '0')}`;
      files[`apps/${n}.yaml`] = yaml({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: n }, data: { index: String(i), text: 'x'.repeat(200) } });
    }
    const big = await createRepo(env.git, 'bench-big', { files, message: `${manifests} manifests` });
    const bigSha = await (await cloneRepo(env.git, big)).head();
    const from1 = auditMark(auditLog);
    const tf0 = now();
    await k.apply(yaml(gitSync('big', big.httpUrl)), { namespace: ns });
    const tf1 = await until(`first sync of ${manifests} manifests`, () => gs('big')?.status?.lastSyncedCommit === bigSha, 900_000);
    const firstSyncRequests = await countRequests(from1, /^sluice-controller/, tf0, tf1);
    log('bench', `git: first sync of ${manifests} manifests ${((tf1 - tf0) / 1000).toFixed(1)}s, ${firstSyncRequests.total} requests`);
    const noop: number[] = [];
    const windows: Array<[number, number]> = [];
    const from2 = auditMark(auditLog);
    const cpu0 = procSample(ctl.pid()).cpuSeconds;
    for (let i = 0; i < 3; i++) {
      const t0 = now();
      const value = await syncNow(k, ns, 'big');
      const t1 = await until('no-op sync handled', () => gs('big')?.status?.lastHandledSyncRequest === value, 600_000);
      noop.push(t1 - t0);
      windows.push([t0, t1]);
    }
    const cpu1 = procSample(ctl.pid());
    const counts: RequestCounts = { total: 0, byVerb: {}, byRequest: {}, userAgents: [] };
    for (const [a, b] of windows) {
      const c = await countRequests(from2, /^sluice-controller/, a, b);
      counts.total += c.total;
      for (const [v, x] of Object.entries(c.byVerb)) counts.byVerb[v] = (counts.byVerb[v] ?? 0) + x;
      for (const [v, x] of Object.entries(c.byRequest)) counts.byRequest[v] = (counts.byRequest[v] ?? 0) + x;
      counts.userAgents = [...new Set([...counts.userAgents, ...c.userAgents])];
    }
    log('bench', `git: no-op sync of ${manifests} manifests ${noop.map((x) => x.toFixed(0)).join(', ')} ms, ${counts.total / 3} requests each`);
    return {
      manifests,
      webhookToApplied: stat(hook),
      firstSyncSeconds: (tf1 - tf0) / 1000,
      firstSyncRequests,
      noopSync: stat(noop),
      noopRequests: counts,
      noopCpuSeconds: (cpu1.cpuSeconds - cpu0) / 3,
      rssMiB: cpu1.rssMiB,
    };
  } finally {
    rec.stop();
    await k.run(['delete', 'gitsyncs.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=120s'], { timeoutMs: 130_000 });
    await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=120s'], { timeoutMs: 130_000 });
    await ctl.stop();
    await k.run(['delete', 'namespace', ns, '--wait=false']);
  }
}
