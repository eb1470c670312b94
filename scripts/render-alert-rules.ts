// Writes deploy/alerts/prometheus-rule.yaml (a PrometheusRule of the Prometheus Operator) from
// deploy/alerts/rules.yaml, the one source of Sluice's alert rules. A test fails when they differ.
//   node scripts/render-alert-rules.ts        (npm run alerts)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';

export const ALERTS_DIR = join(import.meta.dirname, '..', 'deploy', 'alerts');
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
}
