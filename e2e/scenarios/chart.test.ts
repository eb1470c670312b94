// The Helm chart on the real cluster. First, every install the README shows is rendered with
// helm template and passes a server-side dry run, in a namespace that enforces the restricted
// Pod Security Standard. Then RBAC is proven, not assumed: the chart's ServiceAccount and RBAC
// are applied, and the controller (node src/main.ts with the rendered Deployment's flags) runs
// with that ServiceAccount's token instead of the admin certificate, in both scopes, through a
// canary, an analysis and a GitSync (with a signed push webhook and Git credentials from a
// Secret). A permission the code needs and the chart lacks fails these tests twice over: the
// controller logs the API server's 403 (asserted empty) and the rollout does not complete. The
// last test removes one permission to show both signs appear.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attach } from '../harness/attach.ts';
import { acknowledged, webhookPolicy } from '../harness/alerts.ts';
import { installChartIdentity, type ChartIdentity } from '../harness/chart.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import { analysisRuns, analysisStep, describeRuns, errorRateTemplate } from '../harness/analysis.ts';
import { condition, githubPushBody, gitSync, gitSyncAccess, hmacSignature, postHook, waitGitSync } from '../harness/gitops.ts';
import { assertHealthyOn, canaryRollout, canaryServices, completedSteps, manifest, scenario } from '../harness/rollouts.ts';
import { waitFor } from '../harness/wait.ts';
import { CHART_DIR, documentedInstalls, helm } from '../../test/helpers/chart.ts';

const env = attach();
const k = env.kubectl;
type Obj = Record<string, any>;

/** Minimal stand-ins for prometheus-operator's CRDs, so ServiceMonitor and PrometheusRule dry-run (their schemas are not checked). */
function standInCrd(kind: string, plural: string): Obj {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.monitoring.coreos.com`, labels: { 'sluice.dev/e2e-stand-in': 'true' } },
    spec: {
      group: 'monitoring.coreos.com',
      scope: 'Namespaced',
      names: { kind, plural, listKind: `${kind}List`, singular: kind.toLowerCase() },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  };
}

describe('chart', () => {
  test("the harness's kubectl is the cluster's minor version (from the npm package, not the machine's)", async () => {
    const v = await k.json<{ clientVersion: { minor: string }; serverVersion: { minor: string } }>(['version']);
    assert.equal(v.clientVersion.minor, v.serverVersion.minor);
  });

  test('every install the README shows passes a server-side dry run, its pods under the restricted Pod Security Standard', async () => {
    const created: string[] = [];
    for (const [kind, plural] of [
      ['ServiceMonitor', 'servicemonitors'],
      ['PrometheusRule', 'prometheusrules'],
    ] as const) {
      const name = `${plural}.monitoring.coreos.com`;
      if ((await k.run(['get', 'crd', name])).code === 0) continue;
      await k.apply(manifest(standInCrd(kind, plural)));
      created.push(name);
    }
    if (created.length) await k.ok(['wait', '--for=condition=Established', '--timeout=60s', ...created.map((c) => `crd/${c}`)]);
    const ns = await k.createNamespace('chart-dry');
    const dir = mkdtempSync(join(tmpdir(), 'sluice-readme-values-'));
    try {
      await k.ok(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted']);
      // the namespace really enforces it: a pod without the security settings is refused
      const plain = manifest({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'plain' }, spec: { containers: [{ name: 'c', image: 'example/app:v1' }] } });
      const refused = await k.run(['apply', '--dry-run=server', '-n', ns, '-f', '-'], { input: plain });
      assert.notEqual(refused.code, 0, 'restricted PodSecurity is enforced');
      assert.match(refused.stderr, /violates PodSecurity "restricted/);

      const installs = documentedInstalls(dir);
      assert.ok(installs.length >= 4);
      for (const install of installs) {
        const args = [...install.templateArgs];
        args[args.indexOf('--namespace') + 1] = ns;
        const yaml = helm(['template', ...args, '--include-crds']);
        const r = await k.run(['apply', '--server-side', '--dry-run=server', '--force-conflicts', '--field-manager=sluice-e2e', '-n', ns, '-f', '-'], {
          input: yaml,
        });
        assert.equal(r.code, 0, `${install.command}:\n${r.stderr}`);
        assert.doesNotMatch(r.stderr, /PodSecurity/, `${install.command}: no PodSecurity warning`);
        for (const kind of ['deployment.apps', 'clusterrole.rbac.authorization.k8s.io', 'pod', 'customresourcedefinition.apiextensions.k8s.io']) {
          assert.ok(
            r.stdout.split('\n').some((l) => l.startsWith(`${kind}/`) && l.endsWith('serverside-applied (server dry run)')),
            `${install.command}: ${kind} in\n${r.stdout}`,
          );
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await k.deleteNamespace(ns);
      for (const c of created) await k.run(['delete', 'crd', c, '--wait=false']);
    }
  });

  for (const scope of ['cluster', 'namespace'] as const) {
    describe(`the controller as the chart's ServiceAccount, ${scope} scope`, () => {
      let ns = '';
      let id: ChartIdentity | undefined;
      let ctl: ControllerHandle | undefined;
      let hookUrl = '';
      const logs = () => (ctl ? [ctl.logFile] : []);
      const noneForbidden = () => assert.deepEqual(ctl?.forbidden() ?? ['no controller'], [], 'the API server refused the controller nothing');
      /**
       * Each test runs in `ns` (in namespace scope the one the controller serves) with the
       * Rollout `demo`, and leaves it empty: a GitSync first (it must not re-apply), then the
       * Rollouts, whose finalizers the controller (as the ServiceAccount) removes, or the
       * deletion times out.
       */
      const inNamespace = (fn: () => Promise<void>) => async () => {
        try {
          await env.withDiagnostics(ns, logs(), fn);
        } finally {
          await k.run(['delete', 'gitsyncs.sluice.dev,notificationpolicies.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
          const deleted = await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=45s']);
          await k.run(['delete', 'services,analysistemplates.sluice.dev,secrets', '--all', '-n', ns, '--wait=false']);
          assert.equal(deleted.code, 0, `Rollouts deleted, their finalizers removed by the controller: ${deleted.stderr}`);
        }
        noneForbidden();
      };

      before(async () => {
        ns = await k.createNamespace(`chart-${scope}`);
        id = await installChartIdentity(env, {
          scope,
          ...(scope === 'namespace' ? { watchNamespace: ns } : {}),
          values: { webhook: { enabled: true } },
        });
        const cache = join(env.descriptor.stateDir, `chart-git-cache-${scope}-${process.pid}`);
        const { args, webhookAddr } = await id.controllerArgs(cache);
        assert.ok(webhookAddr, 'the chart turned the webhook receiver on');
        hookUrl = `http://${webhookAddr}`;
        if (scope === 'namespace') assert.ok(args.includes(`--namespace=${ns}`), args.join(' '));
        else assert.ok(!args.some((a) => a.startsWith('--namespace')), args.join(' '));
        // /readyz: every informer has listed what it watches, which the chart's RBAC must allow
        ctl = await env.startController({ name: `chart-${scope}`, kubeconfig: id.kubeconfig, args, healthPath: '/readyz', readyTimeoutMs: 60_000 });
      });
      after(async () => {
        await ctl?.stop();
        await k.deleteNamespace(ns);
        await id?.uninstall();
      });

      test('the token is the ServiceAccount and nothing more', async () => {
        const whoami = await k.json<Obj>(['auth', 'whoami', '--kubeconfig', id!.kubeconfig]);
        assert.equal(whoami.status.userInfo.username, `system:serviceaccount:${id!.releaseNamespace}:${id!.serviceAccount}`);
        const can = async (...args: string[]) => (await k.run(['auth', 'can-i', '--kubeconfig', id!.kubeconfig, ...args])).stdout.trim();
        assert.equal(await can('list', 'secrets', '-n', ns), 'no', 'Secrets are read by name, never listed');
        assert.equal(await can('get', 'secrets', '-n', ns), 'yes');
        assert.equal(await can('create', 'configmaps', '-n', ns), 'no', 'no write to kinds the controller does not manage');
        assert.equal(await can('impersonate', 'serviceaccounts', '-n', ns), 'yes');
        assert.equal(await can('impersonate', 'users'), 'no');
        assert.equal(await can('patch', 'rollouts.sluice.dev', '-n', 'default'), scope === 'cluster' ? 'yes' : 'no');
      });

      test(
        'canary: steps, a pause, promotion, Healthy; Events and the finalizer written',
        inNamespace(async () => {
          const s = scenario(env, ns);
          await s.apply(manifest(canaryServices(), canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, { pause: {} }] })));
          const v1 = await s.waitFor('v1 Healthy', (v) => assertHealthyOn(v, v.rollout.status.currentPodHash, 2), 60_000);
          assert.deepEqual(v1.rollout.metadata.finalizers, ['sluice.dev/service-selectors']);
          const h1 = v1.rollout.status.stableRS as string;
          await s.setImage('example/app:v2');
          await s.waitFor('paused at step 2/2 with one v2 pod', (v) => {
            assert.equal(v.rollout.status.phase, 'Paused');
            assert.notEqual(v.rollout.status.currentPodHash, h1);
            assert.equal(v.rs[v.rollout.status.currentPodHash]?.available, 1);
          });
          await s.promote();
          const v2 = await s.waitFor('Healthy on v2', (v) => {
            assert.notEqual(v.rollout.status.currentPodHash, h1);
            assertHealthyOn(v, v.rollout.status.currentPodHash, 2);
          });
          assert.equal(v2.rs[h1]?.spec, 0);
          assert.deepEqual(completedSteps(await s.events()), ['1/2', '2/2']);
        }),
      );

      test(
        'analysis: a bad version is rolled back by its AnalysisRun, and the abort is notified once',
        inNamespace(async () => {
          const s = scenario(env, ns);
          const hookPath = `/n/${ns}/chart-${scope}`;
          await s.apply(
            manifest(
              webhookPolicy(`${env.webhook.url}${hookPath}`, ['rollout-aborted']),
              errorRateTemplate(env, ns, { name: 'judged-errors' }),
              canaryServices(),
              canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, analysisStep('judged-errors'), { setWeight: 100 }] }),
            ),
          );
          const v1 = await s.waitFor('v1 Healthy', (v) => assertHealthyOn(v, v.rollout.status.currentPodHash, 2), 60_000);
          const h1 = v1.rollout.status.stableRS as string;
          await s.setImage('example/app:v2-bad');
          try {
            const aborted = await s.waitFor(
              'aborted by analysis, back on v1',
              (v) => {
                assert.equal(v.rollout.status.phase, 'Degraded');
                assert.equal(v.rollout.status.abort, true);
                assert.match(v.rollout.status.message ?? '', /^Rollout aborted: metric error-rate: .* > 0\.05/);
                assert.equal(v.selectors['demo-stable'], h1);
                assert.equal(v.selectors['demo-canary'], h1);
              },
              90_000,
            );
            assert.equal(aborted.rollout.status.stableRS, h1);
          } catch (err) {
            (err as Error).message += `\n  runs: ${describeRuns(await analysisRuns(k, ns).catch(() => []))}`;
            throw err;
          }
          const runs = (await analysisRuns(k, ns)).filter((r) => r.raw.metadata.ownerReferences?.[0]?.name === 'demo');
          assert.equal(runs.length, 1, describeRuns(runs));
          assert.equal(runs[0]!.phase, 'Failed');
          // The notification controller as the ServiceAccount: Events watched, the policy's outbox written.
          const sent = await waitFor(
            'the abort notified once to the webhook',
            async () => {
              const rs = acknowledged(await env.webhook.requests(hookPath));
              assert.equal(rs.length, 1, `${rs.length} notifications`);
              return rs;
            },
            { timeoutMs: 30_000, intervalMs: 300 },
          );
          assert.match(sent[0]!.body, /rollout-aborted/);
        }),
      );

      test(
        'GitSync: a commit is applied and rolled out, the next one on a signed push webhook; credentials read from a Secret',
        inNamespace(async () => {
          const files = (image: string) => ({
            'apps/services.yaml': manifest(canaryServices()),
            'apps/rollout.yaml': manifest(canaryRollout({ replicas: 2, image, steps: [{ setWeight: 50 }, { pause: {} }] })),
          });
          const repo = await env.git.createRepo(`${ns}-apps`, { files: files('example/app:v1'), message: 'v1' });
          const wc = await env.git.clone(repo);
          const sha1 = await wc.head();
          const token = 'chart-e2e-hook-token';
          await k.apply(
            manifest(
              {
                apiVersion: 'v1',
                kind: 'Secret',
                metadata: { name: 'git-creds' },
                stringData: { username: 'e2e', password: 'not-checked-by-the-test-server' },
              },
              { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook' }, stringData: { token } },
              // What the namespace's owner grants the GitSync: it applies as this ServiceAccount
              // (impersonation), never with the chart's rights, which stay as they are.
              ...gitSyncAccess(),
              gitSync('apps', {
                url: repo.httpUrl,
                ref: { branch: 'main' },
                paths: ['apps'],
                interval: '10m',
                secretRef: { name: 'git-creds' },
                webhook: { secretRef: { name: 'hook' } },
              }),
            ),
            { namespace: ns },
          );
          await waitGitSync(k, ns, 'apps', 'first sync', (g) => {
            assert.equal(g.status.lastSyncedCommit, sha1);
            assert.equal(condition(g, 'Ready')?.status, 'True');
          });
          const s = scenario(env, ns);
          const v1 = await s.waitFor('v1 from Git Healthy', (v) => assertHealthyOn(v, v.rollout.status.currentPodHash, 2), 60_000);
          const h1 = v1.rollout.status.stableRS as string;

          const sha2 = await wc.commitAndPush('v2', files('example/app:v2'));
          const body = githubPushBody(repo.httpUrl, sha2);
          const hook = await postHook(hookUrl, ns, 'apps', body, { 'X-GitHub-Event': 'push', 'X-Hub-Signature-256': hmacSignature(body, token) });
          assert.equal(hook.status, 202, hook.body);
          await waitGitSync(k, ns, 'apps', 'v2 synced after the webhook', (g) => assert.equal(g.status.lastSyncedCommit, sha2), 20_000);
          await s.waitFor('v2 paused at step 2/2', (v) => {
            assert.equal(v.rollout.status.phase, 'Paused');
            assert.equal(v.rollout.status.gitRevision, sha2);
            assert.notEqual(v.rollout.status.currentPodHash, h1);
          });
          await s.promote();
          await s.waitFor('Healthy on v2', (v) => {
            assert.notEqual(v.rollout.status.currentPodHash, h1);
            assertHealthyOn(v, v.rollout.status.currentPodHash, 2);
          });
        }),
      );

      if (scope === 'namespace') {
        test('a Rollout in another namespace is left alone (and asking for it is not even tried)', async () => {
          const other = await k.createNamespace('chart-other');
          try {
            const s = scenario(env, other, 'outside');
            await s.apply(manifest(canaryServices('outside'), canaryRollout({ name: 'outside', replicas: 1 })));
            await s.holds(
              'no status, no ReplicaSet',
              (v) => {
                assert.equal(v.rollout.status.phase, undefined);
                assert.equal(v.replicaSets.length, 0);
              },
              3000,
            );
            noneForbidden();
          } finally {
            await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', other, '--wait=true', '--timeout=30s']);
            await k.deleteNamespace(other);
          }
        });
      }
    });
  }

  test('a permission the chart lacks shows twice: 403s in the controller log, and a rollout that does not complete', async () => {
    // the chart's own rules, with patch taken away from Services (the selectors cannot be pinned)
    const rbac = JSON.parse(helm(['show', 'values', CHART_DIR, '--jsonpath', '{.rbac.rules}'])) as Obj[];
    const rules = rbac.map((r) => (r.resources.includes('services') ? { ...r, verbs: r.verbs.filter((v: string) => v !== 'patch') } : r));
    assert.notDeepEqual(rules, rbac, 'a permission was taken away');
    const ns = await k.createNamespace('chart-denied');
    const id = await installChartIdentity(env, { scope: 'cluster', values: { rbac: { rules } } });
    let ctl: ControllerHandle | undefined;
    try {
      const { args } = await id.controllerArgs(join(env.descriptor.stateDir, `chart-git-cache-denied-${process.pid}`));
      ctl = await env.startController({ name: 'chart-denied', kubeconfig: id.kubeconfig, args, healthPath: '/readyz', readyTimeoutMs: 60_000 });
      const s = scenario(env, ns);
      await s.apply(manifest(canaryServices(), canaryRollout({ replicas: 2 })));
      const refused = await waitFor('the controller logs a refused Service patch', () => {
        const lines = ctl!.forbidden();
        assert.ok(
          lines.some((l) => /services/.test(l) && /patch/i.test(l)),
          lines.join('\n') || '(no 403 yet)',
        );
        return lines;
      });
      assert.ok(refused.length > 0);
      const v = await s.view();
      assert.notEqual(v.rollout.status.phase, 'Healthy', 'not Healthy without its Services pinned');
      assert.equal(v.selectors['demo-stable'], '', 'the stable Service is not pinned');
    } finally {
      await ctl?.stop();
      // the controller cannot finish the Rollout's deletion (its finalizer may be set): take it off by hand
      await k.run(['patch', 'rollouts.sluice.dev', 'demo', '-n', ns, '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
      await k.deleteNamespace(ns);
      await id.uninstall();
    }
  });
});
