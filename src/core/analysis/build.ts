// The AnalysisRun a Rollout starts: templates merged, args resolved, owner and labels set. Pure.
import type { Result } from '../shared/result.ts';
import {
  ANALYSIS_KIND_LABEL,
  ROLLOUT_LABEL,
  STEP_INDEX_LABEL,
  type AnalysisKind,
  type AnalysisRun,
  type AnalysisTemplateSpec,
  type Argument,
  type MeasurementRetention,
  type Metric,
} from '../../api/analysis.ts';
import { API_VERSION, POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import type { Rollout, RolloutAnalysis, RolloutAnalysisArg } from '../../api/rollout.ts';
import { resolveFieldPath, type ArgValue } from './args.ts';
import { compileMetrics } from './compile.ts';

/** A template the caller has read: an AnalysisTemplate in the Rollout's namespace or a ClusterAnalysisTemplate. */
export interface LoadedTemplate {
  clusterScope: boolean;
  name: string;
  spec: AnalysisTemplateSpec;
}

export interface BuildAnalysisRunInput {
  rollout: Rollout;
  analysis: RolloutAnalysis;
  /** The templates read for `analysis.templates` (any extra ones are ignored). */
  templates: readonly LoadedTemplate[];
  kind: AnalysisKind;
  /** Pod-template hash of the stable revision (args with podTemplateHashValue: Stable). */
  stableHash?: string;
  /** Pod-template hash of the revision being rolled out (podTemplateHashValue: Latest, and the run's hash label). */
  latestHash: string;
  name: string;
  /** Index of the canary step, for `kind: step` (also labelled). */
  stepIndex?: number;
}

const describe = (t: { clusterScope?: boolean | undefined; name: string }) => `${t.clusterScope ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate'} ${t.name}`;

/**
 * Builds the AnalysisRun to create, or says why it cannot be: a template missing, two templates
 * defining the same metric or giving the same arg different values, an arg without a value,
 * a query using an arg nobody declares, a condition that does not compile.
 *
 * Args (as Argo Rollouts): the templates' args are merged (an arg with a value wins over one
 * without; two different values are an error); the Rollout's args then set values by name
 * (value, the Stable/Latest pod-template hash, or a field of the Rollout); Rollout args that no
 * template declares are ignored. Args from Secrets stay references and are read at each measurement.
 */
export function buildAnalysisRun(input: BuildAnalysisRunInput): Result<AnalysisRun> {
  const { rollout, analysis } = input;
  const namespace = rollout.metadata.namespace;
  const rolloutName = rollout.metadata.name;
  const uid = rollout.metadata.uid;
  if (!namespace || !rolloutName || !uid) return { ok: false, error: 'the Rollout has no namespace, name or uid (was it read from the API server?)' };

  // 1. Templates
  const used: LoadedTemplate[] = [];
  for (const ref of analysis.templates) {
    const clusterScope = ref.clusterScope === true;
    const template = input.templates.find((t) => t.clusterScope === clusterScope && t.name === ref.templateName);
    if (!template) {
      return {
        ok: false,
        error: clusterScope
          ? `ClusterAnalysisTemplate ${ref.templateName} not found`
          : `AnalysisTemplate ${ref.templateName} not found in namespace ${namespace}`,
      };
    }
    used.push(template);
  }

  // 2. Metrics: names are unique across the templates
  const metrics: Metric[] = [];
  const metricOwner = new Map<string, LoadedTemplate>();
  for (const template of used) {
    for (const metric of template.spec.metrics) {
      const owner = metricOwner.get(metric.name);
      if (owner) {
        const where = owner === template ? `twice in ${describe(template)}` : `in both ${describe(owner)} and ${describe(template)}`;
        return { ok: false, error: `metric ${metric.name} is defined ${where}` };
      }
      metricOwner.set(metric.name, template);
      metrics.push(metric);
    }
  }

  // 3. Template args, merged
  const args = new Map<string, { arg: Argument; from: LoadedTemplate }>();
  for (const template of used) {
    for (const arg of template.spec.args ?? []) {
      const stored = args.get(arg.name);
      if (stored) {
        const a = argSource(stored.arg);
        const b = argSource(arg);
        if (a !== undefined && b !== undefined && a !== b) {
          return { ok: false, error: `arg ${arg.name} has different values in ${describe(stored.from)} (${a}) and ${describe(template)} (${b})` };
        }
        if (a !== undefined && b === undefined) continue;
      }
      args.set(arg.name, { arg, from: template });
    }
  }

  // 4. The Rollout's args set values
  for (const given of analysis.args ?? []) {
    const declared = args.get(given.name);
    if (!declared) continue;
    const value = rolloutArgValue(given, input);
    if (!value.ok) return value;
    args.set(given.name, { arg: { name: given.name, value: value.value }, from: declared.from });
  }

  // 5. Template fieldRefs resolve against the Rollout; every arg needs a value now
  const resolved: Argument[] = [];
  for (const { arg, from } of args.values()) {
    if (arg.value !== undefined || arg.valueFrom?.secretKeyRef) {
      resolved.push(arg);
    } else if (arg.valueFrom?.fieldRef) {
      const value = resolveFieldPath(rollout, arg.valueFrom.fieldRef.fieldPath);
      if (!value.ok) return { ok: false, error: `arg ${arg.name} (${describe(from)}): ${value.error} on Rollout ${rolloutName}` };
      resolved.push({ name: arg.name, value: value.value });
    } else {
      return { ok: false, error: `arg ${arg.name} of ${describe(from)} has no value: pass it in the Rollout's analysis args or give it a default value` };
    }
  }

  const retention: MeasurementRetention[] = used.flatMap((t) => t.spec.measurementRetention ?? []);
  const spec = { args: resolved, metrics, ...(retention.length ? { measurementRetention: retention } : {}) };

  // 6. Validate now, so that the Rollout can say what is wrong before anything is created
  const literal = new Map<string, ArgValue>(resolved.flatMap((a) => (a.value !== undefined ? [[a.name, { value: a.value, secret: false }] as const] : [])));
  const compiled = compileMetrics(spec, literal);
  if (!compiled.ok) return compiled;

  const labels: Record<string, string> = {
    [POD_TEMPLATE_HASH_LABEL]: input.latestHash,
    [ANALYSIS_KIND_LABEL]: input.kind,
  };
  // A label value holds at most 63 characters; a longer Rollout name is found through the owner reference.
  if (rolloutName.length <= 63) labels[ROLLOUT_LABEL] = rolloutName;
  if (input.kind === 'step' && input.stepIndex !== undefined) labels[STEP_INDEX_LABEL] = String(input.stepIndex);

  return {
    ok: true,
    value: {
      apiVersion: API_VERSION,
      kind: 'AnalysisRun',
      metadata: {
        name: input.name,
        namespace,
        labels,
        ownerReferences: [{ apiVersion: rollout.apiVersion, kind: 'Rollout', name: rolloutName, uid, controller: true, blockOwnerDeletion: true }],
      },
      spec,
    },
  };
}

/** How an arg gets its value, as text to compare (undefined = no value). */
function argSource(arg: Argument): string | undefined {
  if (arg.value !== undefined) return JSON.stringify(arg.value);
  if (arg.valueFrom?.secretKeyRef) return `Secret ${arg.valueFrom.secretKeyRef.name} key ${arg.valueFrom.secretKeyRef.key}`;
  if (arg.valueFrom?.fieldRef) return `field ${arg.valueFrom.fieldRef.fieldPath}`;
  return undefined;
}

function rolloutArgValue(arg: RolloutAnalysisArg, input: BuildAnalysisRunInput): Result<string> {
  if (arg.value !== undefined) return { ok: true, value: arg.value };
  const from = arg.valueFrom;
  if (from?.podTemplateHashValue === 'Latest') return { ok: true, value: input.latestHash };
  if (from?.podTemplateHashValue === 'Stable') {
    if (!input.stableHash) return { ok: false, error: `arg ${arg.name} asks for the Stable pod-template hash, but the Rollout has no stable revision yet` };
    return { ok: true, value: input.stableHash };
  }
  if (from?.fieldRef) {
    const value = resolveFieldPath(input.rollout, from.fieldRef.fieldPath);
    return value.ok ? value : { ok: false, error: `arg ${arg.name}: ${value.error} on Rollout ${input.rollout.metadata.name}` };
  }
  return { ok: false, error: `arg ${arg.name} in the Rollout has no value or valueFrom` };
}

const KIND_SUFFIX: Record<AnalysisKind, string> = { step: 'step', background: 'bg', prePromotion: 'pre', postPromotion: 'post' };

/**
 * A deterministic name for the run of one analysis of one revision, e.g. `web-6f8d9c-step-2`,
 * `web-6f8d9c-bg`; `attempt` > 0 (after a retry) adds `-2`, `-3`… Stays within 253 characters.
 */
export function analysisRunName(rolloutName: string, podHash: string, kind: AnalysisKind, stepIndex?: number, attempt = 0): string {
  const suffix = [
    podHash,
    KIND_SUFFIX[kind],
    ...(kind === 'step' && stepIndex !== undefined ? [String(stepIndex)] : []),
    ...(attempt > 0 ? [String(attempt + 1)] : []),
  ].join('-');
  const room = 253 - suffix.length - 1;
  return `${rolloutName.slice(0, room).replace(/[-.]+$/, '')}-${suffix}`;
}
