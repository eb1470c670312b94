// The shipped alert rules and dashboard against the controller's own metrics: every metric
// they query is one the controller registers; the PrometheusRule is rendered from the rules
// file; promtool checks and unit-tests the rules (when it is installed).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { Registry } from 'prom-client';
import { registerControllerMetrics } from '../src/controller/metrics-registry.ts';
import { kinds } from '../src/ports/kube.ts';
import { ALERTS_DIR, CHART_ALERTS, renderPrometheusRule } from '../scripts/render-alert-rules.ts';
import { FakeKube } from './fakes/kube.ts';

const root = join(import.meta.dirname, '..');

async function registeredNames(): Promise<Set<string>> {
  const registry = new Registry();
  const kube = new FakeKube();
  const metrics = registerControllerMetrics(registry);
  metrics.watch({ rollouts: kube.informer(kinds.rollout), analysisRuns: kube.informer(kinds.analysisRun), gitSyncs: kube.informer(kinds.gitSync) });
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`);
  }
  return names;
}

/** sluice_* metric names in a PromQL expression. */
const metricsIn = (expr: string) => [...expr.matchAll(/\bsluice_[a-z0-9_]+\b/g)].map((m) => m[0]);

function exprsOfDashboard(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => exprsOfDashboard(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if ((k === 'expr' || k === 'definition') && typeof v === 'string') out.push(v);
      else exprsOfDashboard(v, out);
    }
  }
  return out;
}

describe('observability', () => {
  test('every metric the Grafana dashboard queries is registered by the controller', async () => {
    const names = await registeredNames();
    const dashboard = JSON.parse(readFileSync(join(root, 'deploy', 'grafana', 'sluice.json'), 'utf8'));
    const exprs = exprsOfDashboard(dashboard.panels).concat(exprsOfDashboard(dashboard.templating));
    assert.ok(exprs.length > 20, 'the dashboard has queries');
    const used = new Set(exprs.flatMap(metricsIn));
    const missing = [...used].filter((m) => !names.has(m));
    assert.deepEqual(missing, [], `queried but not registered: ${missing.join(', ')}`);
    // And the other way: what a person would look for is on it.
    for (const m of [
      'sluice_rollout_phase',
      'sluice_rollout_weight',
      'sluice_analysis_metric_value',
      'sluice_gitsync_failing',
      'sluice_notification_outbox_entries',
      'sluice_kube_requests_total',
    ]) {
      assert.ok(used.has(m), `${m} on the dashboard`);
    }
  });

  test('every metric the alert rules use is registered by the controller', async () => {
    const names = await registeredNames();
    const rules = load(readFileSync(join(ALERTS_DIR, 'rules.yaml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
    const alerts = rules.groups.flatMap((g) => g.rules);
    assert.deepEqual(
      alerts.map((r) => r.alert),
      [
        'SluiceRolloutAborted',
        'SluiceRolloutPausedTooLong',
        'SluiceRolloutProgressDeadlineExceeded',
        'SluiceAnalysisErroring',
        'SluiceGitSyncFailing',
        'SluiceNotificationsFailing',
        'SluiceNotificationsGivenUp',
        'SluiceNotificationChannelNotReady',
        'SluiceControllerDown',
        'SluiceReconcileErrors',
      ],
    );
    for (const r of alerts) {
      for (const m of metricsIn(r.expr)) assert.ok(names.has(m), `${r.alert} uses ${m}, which the controller does not register`);
    }
  });

  test("deploy/alerts/prometheus-rule.yaml and the chart's files/alerts.yaml come from rules.yaml (run `npm run alerts`)", () => {
    assert.equal(readFileSync(join(ALERTS_DIR, 'prometheus-rule.yaml'), 'utf8'), renderPrometheusRule());
    assert.equal(readFileSync(CHART_ALERTS, 'utf8'), readFileSync(join(ALERTS_DIR, 'rules.yaml'), 'utf8'));
    const manifest = load(renderPrometheusRule()) as { kind: string; spec: { groups: unknown[] } };
    assert.equal(manifest.kind, 'PrometheusRule');
    assert.deepEqual(manifest.spec.groups, (load(readFileSync(join(ALERTS_DIR, 'rules.yaml'), 'utf8')) as { groups: unknown[] }).groups);
  });

  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  const skip = promtool.error ? 'promtool is not installed (Debian: apt-get install prometheus; e2e/setup-deps.sh does)' : false;
  test('promtool check rules', { skip }, () => {
    const r = spawnSync('promtool', ['check', 'rules', join(ALERTS_DIR, 'rules.yaml')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
  test('promtool test rules (the rules fire and resolve when they should)', { skip }, () => {
    const r = spawnSync('promtool', ['test', 'rules', join(ALERTS_DIR, 'rules.test.yaml')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
});
