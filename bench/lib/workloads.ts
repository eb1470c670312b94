// The same workload for every controller: N objects named bench-<i> of 4 replicas.
// Sluice and Argo Rollouts get the same Rollout spec (only apiVersion differs); Flagger,
// which has no replica-weighted canary, gets a Deployment and a blue-green Canary.
type Obj = Record<string, any>;

export type Controller = 'sluice' | 'argo' | 'flagger';
export const GROUP: Record<Exclude<Controller, 'flagger'>, string> = { sluice: 'sluice.dev', argo: 'argoproj.io' };
export const REPLICAS = 4;
export const PAUSE_MS = 2000;
/** Pods of these get simulated traffic from the traffic helper (the analysis workload). */
export const TRAFFIC_LABEL = 'bench/traffic';

export const name = (i: number) => `bench-${i}`;
export const rolloutOf = (objName: string) => /^(bench-\d+)/.exec(objName)?.[1];

function podTemplate(n: string, image: string, traffic: boolean): Obj {
  return {
    metadata: { labels: { app: n, ...(traffic ? { [TRAFFIC_LABEL]: 'on' } : {}) } },
    spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }] }] },
  };
}

function service(n: string, app: string): Obj {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: n }, spec: { selector: { app }, ports: [{ port: 80, targetPort: 8080 }] } };
}

export const CANARY_STEPS = [
  { setWeight: 25 },
  { pause: { duration: '2s' } },
  { setWeight: 50 },
  { pause: { duration: '2s' } },
  { setWeight: 75 },
  { pause: { duration: '2s' } },
];

/** The analysis step of the time-to-safety workload: the error rate of the new revision. */
const ANALYSIS_STEP = {
  analysis: {
    templates: [{ templateName: 'error-rate' }],
    args: [{ name: 'canary-hash', valueFrom: { podTemplateHashValue: 'Latest' } }],
  },
};
export const SAFETY_STEPS = [{ setWeight: 25 }, ANALYSIS_STEP, { setWeight: 50 }, { pause: { duration: '2s' } }];

export function canaryRollout(c: 'sluice' | 'argo', i: number, steps: Obj[], traffic = false): Obj[] {
  const n = name(i);
  return [
    service(`${n}-stable`, n),
    service(`${n}-canary`, n),
    {
      apiVersion: `${GROUP[c]}/v1alpha1`,
      kind: 'Rollout',
      metadata: { name: n },
      spec: {
        replicas: REPLICAS,
        selector: { matchLabels: { app: n } },
        template: podTemplate(n, 'example/app:v1', traffic),
        strategy: { canary: { stableService: `${n}-stable`, canaryService: `${n}-canary`, maxSurge: 1, maxUnavailable: 0, steps } },
      },
    },
  ];
}

/** Blue-green: preview, then promotion 10 s after the preview is ready (Flagger's shortest analysis interval). */
export function blueGreenRollout(c: 'sluice' | 'argo', i: number): Obj[] {
  const n = name(i);
  return [
    service(`${n}-active`, n),
    service(`${n}-preview`, n),
    {
      apiVersion: `${GROUP[c]}/v1alpha1`,
      kind: 'Rollout',
      metadata: { name: n },
      spec: {
        replicas: REPLICAS,
        selector: { matchLabels: { app: n } },
        template: podTemplate(n, 'example/app:v1', false),
        strategy: { blueGreen: { activeService: `${n}-active`, previewService: `${n}-preview`, autoPromotionSeconds: 10, scaleDownDelaySeconds: 0 } },
      },
    },
  ];
}

/** Flagger blue-green with plain Services (-mesh-provider=kubernetes): one 10 s iteration, no metrics. */
export function flaggerCanary(i: number): Obj[] {
  const n = name(i);
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: n },
      spec: { replicas: REPLICAS, selector: { matchLabels: { app: n } }, template: podTemplate(n, 'example/app:v1', false) },
    },
    {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'Canary',
      metadata: { name: n },
      spec: {
        provider: 'kubernetes',
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: n },
        progressDeadlineSeconds: 600,
        service: { port: 80, targetPort: 8080 },
        analysis: { interval: '10s', threshold: 2, iterations: 1 },
      },
    },
  ];
}

/** The same Prometheus query for both: error ratio of the new revision over the traffic helper's counters. */
export function errorRateTemplate(c: 'sluice' | 'argo', ns: string, prometheusUrl: string): Obj {
  const sel = `namespace="${ns}",rollouts_pod_template_hash="{{args.canary-hash}}"`;
  return {
    apiVersion: `${GROUP[c]}/v1alpha1`,
    kind: 'AnalysisTemplate',
    metadata: { name: 'error-rate' },
    spec: {
      args: [{ name: 'canary-hash' }],
      metrics: [
        {
          name: 'error-rate',
          initialDelay: '5s',
          interval: '2s',
          count: 3,
          failureLimit: 0,
          failureCondition: 'result[0] > 0.05',
          provider: {
            prometheus: {
              address: prometheusUrl,
              timeout: 5,
              query: `sum(rate(sluice_demo_errors_total{${sel}}[10s])) / sum(rate(sluice_demo_requests_total{${sel}}[10s]))`,
            },
          },
        },
      ],
    },
  };
}
