// Writes deploy/alerts/prometheus-rule.yaml (a PrometheusRule of the Prometheus Operator) from
// deploy/alerts/rules.yaml, the one source of Sluice's alert rules, and copies the rules into the
// Helm chart (charts/sluice/files/alerts.yaml, which its PrometheusRule template reads: helm only
// reads files inside the chart). A test fails when they differ.
//   node scripts/render-alert-rules.ts        (npm run alerts)
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dump, load } from 'js-yaml';

export const ALERTS_DIR = join(import.meta.dirname, '..', 'deploy', 'alerts');
export const CHART_ALERTS = join(import.meta.dirname, '..', 'charts', 'sluice', 'files', 'alerts.yaml');
const HEADER = '# Generated from deploy/alerts/rules.yaml by `npm run alerts`; do not edit by hand.\n';

/** The PrometheusRule manifest of the rules file, as text. */
export function renderPrometheusRule(rulesText = readFileSync(join(ALERTS_DIR, 'rules.yaml'), 'utf8')): string {
  const rules = load(rulesText) as { groups?: unknown[] };
  if (!Array.isArray(rules?.groups)) throw new Error('deploy/alerts/rules.yaml has no groups');
  const manifest = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'sluice', labels: { 'app.kubernetes.io/name': 'sluice', 'app.kubernetes.io/component': 'alert-rules' } },
    spec: { groups: rules.groups },
  };
  return HEADER + dump(manifest, { lineWidth: 160, noRefs: true });
}

if (import.meta.main) {
  writeFileSync(join(ALERTS_DIR, 'prometheus-rule.yaml'), renderPrometheusRule());
  console.log('wrote deploy/alerts/prometheus-rule.yaml');
  mkdirSync(dirname(CHART_ALERTS), { recursive: true });
  copyFileSync(join(ALERTS_DIR, 'rules.yaml'), CHART_ALERTS);
  console.log('wrote charts/sluice/files/alerts.yaml');
}
