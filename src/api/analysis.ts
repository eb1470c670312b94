// AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun: the zod schemas are the single
// source; crds/analysis*.yaml are generated from them (src/api/crds.ts).
// Field names follow Argo Rollouts where the meaning is the same; Sluice additions are
// `noDataPolicy`, `prometheus.rangeQuery`, `prometheus.authentication` and header values
// from Secrets. Semantics: docs/analysis.md.
import { z } from 'zod';
import { Condition, DURATION_PATTERN, ObjectMeta, Opaque, SecretKeyRef } from './meta.ts';

/** Bounds that keep the CEL validation rules below within the API server's cost budget. */
const MAX_METRICS = 32;
const MAX_ARGS = 64;
const NAME_MAX = 63;

/**
 * A duration string such as 30s, 5m or 1h30m (or whole seconds, "30"), as Argo Rollouts writes
 * interval and initialDelay. A plain string with a pattern and a length bound, not meta.ts's
 * int-or-string: the CEL rule an int-or-string needs for its pattern is too costly for the API
 * server inside a list of metrics.
 */
export const DurationString = z.string().max(32).regex(new RegExp(DURATION_PATTERN), 'must be a duration like 30s, 5m, 1h30m or whole seconds');
export type DurationString = z.infer<typeof DurationString>;

// ---------------------------------------------------------------------------------------
// Args

export const ArgValueFrom = z
  .object({
    secretKeyRef: SecretKeyRef.optional().describe(
      'A key of a Secret in the namespace of the AnalysisRun; read at every measurement, never copied into the run',
    ),
    fieldRef: z
      .object({ fieldPath: z.string().min(1) })
      .optional()
      .describe("A field of the Rollout that starts the analysis, e.g. metadata.name or metadata.labels['app']"),
  })
  .meta({
    'x-kubernetes-validations': [{ rule: 'has(self.secretKeyRef) != has(self.fieldRef)', message: 'valueFrom sets exactly one of secretKeyRef and fieldRef' }],
  });
export type ArgValueFrom = z.infer<typeof ArgValueFrom>;

export const Argument = z
  .object({
    name: z
      .string()
      .min(1)
      .max(NAME_MAX)
      .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must start with a letter or _ and hold only letters, digits, _, . and -'),
    value: z.string().optional().describe('A literal value, or the default when the Rollout passes none'),
    valueFrom: ArgValueFrom.optional(),
  })
  .meta({
    'x-kubernetes-validations': [{ rule: '!(has(self.value) && has(self.valueFrom))', message: 'an arg sets value or valueFrom, not both' }],
  });
export type Argument = z.infer<typeof Argument>;

// ---------------------------------------------------------------------------------------
// Prometheus provider (headers are the web provider's too)

export const HeaderValueFrom = z.object({ secretKeyRef: SecretKeyRef });

export const Header = z
  .object({
    key: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name'),
    value: z.string().optional(),
    valueFrom: HeaderValueFrom.optional().describe('Read the value from a Secret (for API keys and tokens)'),
  })
  .meta({
    'x-kubernetes-validations': [{ rule: 'has(self.value) != has(self.valueFrom)', message: 'a header sets exactly one of value and valueFrom' }],
  });
export type Header = z.infer<typeof Header>;

export const ValueOrSecret = z
  .object({
    value: z.string().optional(),
    secretKeyRef: SecretKeyRef.optional(),
  })
  .meta({
    'x-kubernetes-validations': [{ rule: 'has(self.value) != has(self.secretKeyRef)', message: 'set exactly one of value and secretKeyRef' }],
  });
export type ValueOrSecret = z.infer<typeof ValueOrSecret>;

export const PrometheusAuthentication = z
  .object({
    basic: z.object({ username: ValueOrSecret, password: ValueOrSecret }).optional().describe('HTTP basic auth; keep the password in a Secret'),
    bearer: z.object({ token: ValueOrSecret }).optional().describe('An Authorization: Bearer token; keep it in a Secret'),
  })
  .meta({
    'x-kubernetes-validations': [{ rule: 'has(self.basic) != has(self.bearer)', message: 'authentication sets exactly one of basic and bearer' }],
  });
export type PrometheusAuthentication = z.infer<typeof PrometheusAuthentication>;

export const PrometheusRangeQuery = z.object({
  range: DurationString.describe('How far back from the measurement time the range starts, e.g. 10m'),
  step: DurationString.describe('Resolution step, e.g. 30s'),
});
export type PrometheusRangeQuery = z.infer<typeof PrometheusRangeQuery>;

export const PrometheusProvider = z.object({
  address: z.string().min(1).describe('Base URL of the Prometheus server, e.g. http://prometheus.monitoring:9090'),
  query: z.string().min(1).describe('PromQL; {{args.name}} is replaced by the value of the arg'),
  timeout: z
    .number()
    .int()
    .min(1)
    .max(3600)
    .optional()
    .describe('Query timeout in seconds (default 30), as Argo Rollouts; a query that takes longer is an error measurement'),
  headers: z.array(Header).max(32).optional(),
  authentication: PrometheusAuthentication.optional(),
  rangeQuery: PrometheusRangeQuery.optional().describe('Run a range query over the last `range`; result is then the flat list of every sample'),
});
export type PrometheusProvider = z.infer<typeof PrometheusProvider>;

// ---------------------------------------------------------------------------------------
// Web provider (Argo Rollouts' `provider.web`)

export const WebMethod = z.enum(['GET', 'POST', 'PUT']);
export type WebMethod = z.infer<typeof WebMethod>;

export const WebProvider = z
  .object({
    url: z.string().min(1).max(4096).describe('The http(s) URL to call; {{args.name}} is replaced by the value of the arg as it is (as Argo Rollouts does)'),
    method: WebMethod.optional().describe('GET (the default), POST or PUT'),
    headers: z.array(Header).max(32).optional().describe('Request headers; a value may use {{args.name}} or come from a Secret (valueFrom)'),
    body: z.string().max(65536).optional().describe('The request body, for POST and PUT; {{args.name}} is replaced'),
    jsonBody: Opaque.optional().describe(
      'A JSON request body, for POST and PUT, sent with Content-Type: application/json; {{args.name}} is replaced in its strings',
    ),
    timeoutSeconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .optional()
      .describe(
        'Give up after this many seconds (default 10, at most 120; 0 = the default), as Argo Rollouts; a request that takes longer is an error measurement',
      ),
    jsonPath: z
      .string()
      .max(1024)
      .optional()
      .describe('Kubernetes JSONPath selecting the value the conditions see as `result`, e.g. {$.data.ok} (default {$}: the whole reply)'),
    insecure: z.boolean().optional().describe('Skip the verification of the server certificate (https)'),
    authentication: Opaque.optional().describe("Argo Rollouts' oauth2 authentication: not supported yet, refused"),
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: '!(has(self.body) && has(self.jsonBody))', message: 'set body or jsonBody, not both' },
      {
        rule: "!(has(self.body) || has(self.jsonBody)) || (has(self.method) && self.method != 'GET')",
        message: 'body and jsonBody need method POST or PUT',
      },
      {
        rule: '!has(self.authentication)',
        message: 'web authentication (oauth2) is not supported yet: send a token in a header whose value comes from a Secret (valueFrom.secretKeyRef)',
      },
    ],
  });
export type WebProvider = z.infer<typeof WebProvider>;

/** Argo Rollouts' other metric providers (v1.10): accepted, kept as written, and explained when the analysis starts. */
export const UNSUPPORTED_PROVIDERS = [
  'job',
  'datadog',
  'newRelic',
  'wavefront',
  'kayenta',
  'cloudWatch',
  'graphite',
  'influxdb',
  'skywalking',
  'plugin',
] as const;
const unsupported = (name: string) =>
  Opaque.optional().describe(`Argo Rollouts' ${name} provider: accepted, not measured by Sluice (an analysis using it does not start, and says so)`);

// Argo's other providers are declared (opaque) so that the API server keeps them and the Rollout
// says what to do instead; unknown keys are kept too (catchall) so that the compiler can name
// them (the API server prunes those).
export const MetricProvider = z
  .object({
    prometheus: PrometheusProvider.optional(),
    web: WebProvider.optional(),
    ...Object.fromEntries(UNSUPPORTED_PROVIDERS.map((name) => [name, unsupported(name)])),
  })
  .catchall(z.unknown())
  .meta({
    'x-kubernetes-validations': [
      {
        rule: `[${['prometheus', 'web', ...UNSUPPORTED_PROVIDERS].map((k) => `has(self.${k})`).join(', ')}].filter(b, b).size() == 1`,
        message: 'a provider must be set, exactly one (Sluice measures with prometheus or web)',
      },
    ],
  });
export type MetricProvider = z.infer<typeof MetricProvider>;

// ---------------------------------------------------------------------------------------
// Metrics

/** What a measurement without data (empty result, NaN) counts as. */
export const NoDataPolicy = z.enum(['Inconclusive', 'Failed', 'Error', 'Successful', 'Evaluate']);
export type NoDataPolicy = z.infer<typeof NoDataPolicy>;

export const Metric = z
  .object({
    name: z
      .string()
      .min(1)
      .max(NAME_MAX)
      .regex(/^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/i, 'must be letters, digits, -, _ or ., starting and ending with a letter or digit'),
    interval: DurationString.optional().describe('Time between measurements; without it the metric is measured once'),
    initialDelay: DurationString.optional().describe('Wait this long after the run starts before the first measurement'),
    count: z.number().int().min(0).optional().describe('Number of measurements; 0 or unset with an interval = until the run is terminated'),
    successCondition: z.string().min(1).max(4096).optional().describe('CEL over `result`, e.g. result[0] >= 0.95'),
    failureCondition: z.string().min(1).max(4096).optional().describe('CEL over `result`, e.g. result[0] > 0.05'),
    failureLimit: z.number().int().min(0).optional().describe('Failed when failed measurements exceed this (default 0)'),
    inconclusiveLimit: z.number().int().min(0).optional().describe('Inconclusive when inconclusive measurements exceed this (default 0)'),
    consecutiveErrorLimit: z.number().int().min(0).optional().describe('Error when consecutive error measurements exceed this (default 4)'),
    noDataPolicy: NoDataPolicy.optional().describe('What an empty result or NaN counts as (default Inconclusive); Evaluate hands it to the conditions'),
    provider: MetricProvider,
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'has(self.successCondition) || has(self.failureCondition)',
        message: 'a metric needs a successCondition or a failureCondition (without one every measurement would pass)',
      },
      { rule: '!has(self.count) || self.count <= 1 || has(self.interval)', message: 'interval must be set when count is greater than 1' },
    ],
  });
export type Metric = z.infer<typeof Metric>;

export const MeasurementRetention = z.object({
  metricName: z.string().min(1).max(NAME_MAX).describe('A metric name, or * for every metric'),
  limit: z.number().int().min(1).max(1000),
});
export type MeasurementRetention = z.infer<typeof MeasurementRetention>;

const templateSpecFields = {
  args: z.array(Argument).max(MAX_ARGS).optional(),
  metrics: z.array(Metric).min(1).max(MAX_METRICS),
  measurementRetention: z.array(MeasurementRetention).max(MAX_METRICS).optional().describe('Measurements kept per metric in the run status (default 10)'),
};

const templateSpecRules = {
  'x-kubernetes-validations': [
    { rule: 'self.metrics.all(a, self.metrics.exists_one(b, b.name == a.name))', message: 'metric names must be unique' },
    { rule: '!has(self.args) || self.args.all(a, self.args.exists_one(b, b.name == a.name))', message: 'arg names must be unique' },
  ],
};

export const AnalysisTemplateSpec = z.object(templateSpecFields).meta(templateSpecRules);
export type AnalysisTemplateSpec = z.infer<typeof AnalysisTemplateSpec>;

export const AnalysisTemplate = z.object({
  apiVersion: z.string(),
  kind: z.literal('AnalysisTemplate'),
  metadata: ObjectMeta,
  spec: AnalysisTemplateSpec,
});
export type AnalysisTemplate = z.infer<typeof AnalysisTemplate>;

export const ClusterAnalysisTemplate = z.object({
  apiVersion: z.string(),
  kind: z.literal('ClusterAnalysisTemplate'),
  metadata: ObjectMeta,
  spec: AnalysisTemplateSpec,
});
export type ClusterAnalysisTemplate = z.infer<typeof ClusterAnalysisTemplate>;

// ---------------------------------------------------------------------------------------
// AnalysisRun

export const AnalysisRunSpec = z
  .object({
    ...templateSpecFields,
    terminate: z.boolean().optional().describe('Stop measuring; set by the Rollout when it no longer needs the run'),
  })
  .meta(templateSpecRules);
export type AnalysisRunSpec = z.infer<typeof AnalysisRunSpec>;

/** Run and metric phases, worst last. */
export const AnalysisPhase = z.enum(['Pending', 'Running', 'Successful', 'Inconclusive', 'Error', 'Failed']);
export type AnalysisPhase = z.infer<typeof AnalysisPhase>;

/** The verdict of one measurement. */
export const MeasurementPhase = z.enum(['Successful', 'Failed', 'Inconclusive', 'Error']);
export type MeasurementPhase = z.infer<typeof MeasurementPhase>;

export const Measurement = z.object({
  phase: MeasurementPhase,
  startedAt: z.string(),
  finishedAt: z.string(),
  query: z.string().optional().describe('The query as sent (values from Secrets masked)'),
  value: z.string().optional().describe('The result as CEL saw it, e.g. [0.23] or 0.5'),
  condition: z.string().optional().describe('The condition that decided the verdict'),
  noData: z.boolean().optional().describe('The query returned no data (empty, or NaN)'),
  message: z.string().describe('Why: e.g. 0.23 > 0.05, or the error'),
});
export type Measurement = z.infer<typeof Measurement>;

export const MetricResult = z.object({
  name: z.string(),
  phase: AnalysisPhase,
  message: z.string().optional(),
  count: z.number().int().describe('Measurements with a verdict (errors excluded)'),
  successful: z.number().int(),
  failed: z.number().int(),
  inconclusive: z.number().int(),
  error: z.number().int(),
  consecutiveError: z.number().int(),
  measurements: z.array(Measurement).optional().describe('The most recent measurements, oldest first (bounded by measurementRetention)'),
});
export type MetricResult = z.infer<typeof MetricResult>;

export const AnalysisRunStatus = z.object({
  phase: AnalysisPhase.optional(),
  message: z.string().optional(),
  startedAt: z.string().optional(),
  completedAt: z.string().optional(),
  nextMeasurementAt: z.string().optional().describe('When the next measurement is due'),
  metricResults: z.array(MetricResult).optional(),
  conditions: z.array(Condition).optional(),
});
export type AnalysisRunStatus = z.infer<typeof AnalysisRunStatus>;

export const AnalysisRun = z.object({
  apiVersion: z.string(),
  kind: z.literal('AnalysisRun'),
  metadata: ObjectMeta.extend({
    ownerReferences: z
      .array(
        z.looseObject({
          apiVersion: z.string(),
          kind: z.string(),
          name: z.string(),
          uid: z.string(),
          controller: z.boolean().optional(),
          blockOwnerDeletion: z.boolean().optional(),
        }),
      )
      .optional(),
  }),
  spec: AnalysisRunSpec,
  status: AnalysisRunStatus.optional(),
});
export type AnalysisRun = z.infer<typeof AnalysisRun>;

/** Where an analysis sits in a Rollout. */
export const AnalysisKind = z.enum(['step', 'background', 'prePromotion', 'postPromotion']);
export type AnalysisKind = z.infer<typeof AnalysisKind>;

/** Labels on every AnalysisRun a Rollout starts. */
export const ROLLOUT_LABEL = 'sluice.dev/rollout';
export const ANALYSIS_KIND_LABEL = 'sluice.dev/analysis-kind';
export const STEP_INDEX_LABEL = 'sluice.dev/step-index';
