import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analysisRunView } from '../model/rollout.ts';
import { renderAnalysis } from './analysis.ts';
import { makeStyle } from './style.ts';

test('a web metric: the request it makes (credentials redacted), the JSON value as recorded, the verdict', () => {
  const run = analysisRunView({
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'AnalysisRun',
    metadata: { name: 'r', namespace: 'shop' },
    spec: {
      metrics: [
        {
          name: 'webmetric',
          successCondition: 'result.ok',
          provider: { web: { url: 'https://user:pw@metrics.shop/m?svc={{args.svc}}', jsonPath: '{$.data}' } },
        },
      ],
    },
    status: {
      phase: 'Successful',
      metricResults: [
        {
          name: 'webmetric',
          phase: 'Successful',
          count: 1,
          successful: 1,
          failed: 0,
          inconclusive: 0,
          error: 0,
          consecutiveError: 0,
          measurements: [
            {
              phase: 'Successful',
              startedAt: '2030-01-01T00:00:00Z',
              finishedAt: '2030-01-01T00:00:01Z',
              query: 'GET https://***@metrics.shop/m?svc=checkout',
              value: '{"ok":true}',
              condition: 'successCondition: result.ok',
              message: 'result.ok is true',
            },
          ],
        },
      ],
    },
  });
  const text = renderAnalysis(run, makeStyle(false));
  assert.match(text, /^ {2}Web: {8}GET https:\/\/\*\*\*@metrics\.shop\/m\?svc=\{\{args\.svc\}\} \{\$\.data\}$/m);
  assert.match(text, /^ {2}Query: {6}GET https:\/\/\*\*\*@metrics\.shop\/m\?svc=checkout$/m);
  assert.match(text, /\{"ok":true\}\s+Successful\s+successCondition: result\.ok\s+result\.ok is true/);
  assert.ok(!text.includes('pw@'));
});
