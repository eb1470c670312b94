// Proves the parts of the e2e environment are real: the apiserver, the
// ReplicaSet controller + scheduler + kwok making Ready pods, the traffic helper,
// Prometheus scraping it, git over HTTP, kubectl, and (when src/main.ts exists)
// the controller process starting.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attach } from '../harness/attach.ts';
import { waitFor } from '../harness/wait.ts';

const env = attach();
const k = env.kubectl;
let ns = '';

const replicaSet = (namespace: string) => `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: smoke-abc
  namespace: ${namespace}
  labels: {app: smoke}
spec:
  replicas: 2
  selector:
    matchLabels: {app: smoke, rollouts-pod-template-hash: abc}
  template:
    metadata:
      labels: {app: smoke, rollouts-pod-template-hash: abc}
    spec:
      containers:
        - name: app
          image: example/app:v1
`;

describe('cluster smoke', () => {
  before(async () => {
    ns = await k.createNamespace('smoke');
  });
  after(async () => {
    if (ns) await k.deleteNamespace(ns);
  });

  test('kubectl works and the apiserver is v1.35', async () => {
    const v = await k.json<{ serverVersion: { gitVersion: string; major: string; minor: string } }>(['version']);
    if (env.descriptor.external) {
      assert.ok(v.serverVersion.gitVersion, 'external cluster reports a version');
    } else {
      assert.match(v.serverVersion.gitVersion, /^v1\.35\./);
      assert.equal(v.serverVersion.minor, '35');
    }
    const nodes = await k.ok(['get', 'nodes', '-o', 'name']);
    assert.ok(nodes.trim().length > 0, 'there are nodes');
  });

  test('a ReplicaSet gets Ready pods on kwok nodes, with traffic, scraped by Prometheus', async () => {
    await env.withDiagnostics(ns, [], async () => {
      await k.apply(replicaSet(ns));
      const pods = await waitFor(
        '2 Ready smoke pods on kwok nodes',
        async () => {
          const list = await k.json<{ items: any[] }>(['get', 'pods', '-n', ns, '-l', 'rollouts-pod-template-hash=abc']);
          const ready = list.items.filter(
            (p) => p.status?.phase === 'Running' && p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'),
          );
          assert.equal(ready.length, 2, `ready pods: ${ready.length}/${list.items.length}`);
          return ready;
        },
        { timeoutMs: 60_000 },
      );
      if (!env.descriptor.external) {
        for (const p of pods) assert.match(p.spec.nodeName, /^kwok-node-/);
      }
      const names = pods.map((p: any) => p.metadata.name).sort();

      // the traffic helper counts requests for exactly these pods
      await waitFor(
        'traffic helper counters for both pods',
        async () => {
          const text = await env.traffic.metrics();
          for (const name of names) {
            const line = text.split('\n').find((l) => l.startsWith('sluice_demo_requests_total{') && l.includes(`pod="${name}"`));
            assert.ok(line, `no requests series for ${name}`);
            assert.ok(line.includes(`namespace="${ns}"`), line);
            assert.ok(line.includes('rollout="smoke"'), line);
            assert.ok(line.includes('rollouts_pod_template_hash="abc"'), line);
            assert.ok(line.includes('image_tag="v1"'), line);
            assert.ok(Number(line.split(' ').pop()) > 0, `no requests yet: ${line}`);
          }
          return true;
        },
        { timeoutMs: 20_000 },
      );

      // Prometheus scrapes them: the rate is non-empty at once, and settles at
      // 2 pods x 10 rps once the 10s window is covered by samples (before that,
      // rate() extrapolates from a partial window and reads low)
      const q = `sum(rate(sluice_demo_requests_total{namespace="${ns}",rollouts_pod_template_hash="abc"}[10s]))`;
      await waitFor(
        `Prometheus: ${q} non-empty`,
        async () => {
          const v = await env.prom.values(q);
          assert.equal(v.length, 1, `result: ${JSON.stringify(v)}`);
          assert.ok(v[0]! > 0, `rate ${v[0]}`);
          return v[0]!;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      await waitFor(
        `Prometheus: ${q} ~ 20/s`,
        async () => {
          const [v] = await env.prom.values(q);
          assert.ok(v !== undefined && v > 15 && v < 25, `rate ${v}`);
          return v;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );

      // a good image has no errors
      const errors = await env.prom.values(`sum(rate(sluice_demo_errors_total{namespace="${ns}",rollouts_pod_template_hash="abc"}[10s]))`);
      assert.deepEqual(errors, [0]);
    });
  });

  test('a runtime error-rate override shows up in Prometheus', async () => {
    const tag = 'v1';
    const q = `sum(rate(sluice_demo_errors_total{namespace="${ns}"}[5s])) / ` + `sum(rate(sluice_demo_requests_total{namespace="${ns}"}[5s]))`;
    await env.traffic.setErrorRate(tag, 0.3);
    try {
      await waitFor(
        `error ratio near 0.3`,
        async () => {
          const [v] = await env.prom.values(q);
          assert.ok(v !== undefined && v > 0.2 && v < 0.4, `ratio ${v}`);
          return v;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
    } finally {
      await env.traffic.clearErrorRate(tag);
    }
  });

  test('a bare git repository accepts a push over HTTP and can be cloned back', async () => {
    const repo = await env.git.createRepo(`smoke-${Date.now().toString(36)}`);
    const wc = await env.git.clone(repo); // over http
    const sha = await wc.commitAndPush('add a manifest', {
      'apps/smoke/rollout.yaml': 'kind: Rollout\nmetadata:\n  name: smoke\n',
    });
    assert.match(sha, /^[0-9a-f]{40}$/);
    const back = await env.git.clone(repo);
    assert.equal(await back.head(), sha);
    assert.match(back.read('apps/smoke/rollout.yaml'), /name: smoke/);
    const viaFile = await env.git.clone(repo, { via: 'file' });
    assert.equal(await viaFile.head(), sha);
    for (const d of [wc.dir, back.dir, viaFile.dir]) rmSync(d, { recursive: true, force: true });
  });

  test('a Prometheus alert reaches Alertmanager and the webhook receiver', async () => {
    const id = `smoke-${Date.now().toString(36)}`;
    const ruleFile = join(env.descriptor.prometheus.rulesDir, `${id}.yml`);
    writeFileSync(ruleFile, `groups:\n  - name: ${id}\n    rules:\n      - alert: E2ESmoke\n        expr: vector(1)\n        labels: {e2e: ${id}}\n`);
    try {
      await env.prom.reload();
      const alert = await waitFor(
        'E2ESmoke alert at the webhook receiver',
        async () => {
          const reqs = await env.webhook.requests('/alertmanager');
          return reqs
            .flatMap((r) => (r.json?.alerts ?? []) as Array<{ labels: Record<string, string>; status: string }>)
            .find((a) => a.labels.e2e === id && a.status === 'firing');
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      assert.equal(alert?.labels.alertname, 'E2ESmoke');
      const active = await env.alertmanager.alerts();
      assert.ok(active.some((a) => a.labels.e2e === id));
    } finally {
      rmSync(ruleFile, { force: true });
      await env.prom.reload();
    }
  });

  test('the controller process starts and serves health and metrics', async () => {
    assert.ok(env.controllerAvailable(), 'src/main.ts must exist');
    const ctl = await env.startController();
    try {
      assert.ok(ctl.isRunning());
      const r = await fetch(ctl.healthUrl);
      assert.equal(r.status, 200);
    } finally {
      await ctl.stop();
    }
  });
});
