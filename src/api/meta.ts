// Shared Kubernetes shapes and value types for the Sluice API schemas.
import { z } from 'zod';

export const GROUP = 'sluice.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Label every Sluice-owned ReplicaSet and pod carries (same name as Argo Rollouts, so queries carry over). */
export const POD_TEMPLATE_HASH_LABEL = 'rollouts-pod-template-hash';

/**
 * On a Service whose selector a Rollout pins (the value is the Rollout's name): when the Rollout
 * stops naming that Service (blue-green to canary, a renamed activeService) or is deleted, the
 * pin is taken off again (Argo Rollouts marks its Services the same way).
 */
export const MANAGED_BY_ROLLOUT_ANNOTATION = 'sluice.dev/managed-by-rollout';

/** Metadata as the controller reads it; the API server owns its validation. */
export const ObjectMeta = z.looseObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;

/** An opaque object the API server validates on its own (pod templates, arbitrary manifests). */
export const Opaque = z.looseObject({}).meta({ 'x-kubernetes-preserve-unknown-fields': true });

export const LabelSelectorRequirement = z.object({
  key: z.string().min(1),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
  values: z.array(z.string()).optional(),
});

export const LabelSelector = z.object({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z.array(LabelSelectorRequirement).optional(),
});
export type LabelSelector = z.infer<typeof LabelSelector>;

/**
 * A duration: a Go-style string such as "30s", "1m30s", "250ms", "2h", or a whole
 * number of seconds (as Argo Rollouts accepts for pause durations).
 */
export const DURATION_PATTERN = '^([0-9]+|([0-9]+(\\.[0-9]+)?(ms|s|m|h))+)$';
export const Duration = z
  .union([z.number().int().min(0), z.string().max(32).regex(new RegExp(DURATION_PATTERN), 'must be a duration like 30s, 5m, 1h30m or whole seconds')])
  .meta({
    'x-kubernetes-int-or-string': true,
    'x-kubernetes-validations': [
      {
        rule: `type(self) == string ? self.matches('${DURATION_PATTERN.replace(/\\/g, '\\\\')}') : true`,
        message: 'must be a duration like 30s, 5m, 1h30m or whole seconds',
      },
    ],
  });
export type Duration = z.infer<typeof Duration>;

/** A count or a percentage such as "25%". */
export const IntOrPercent = z
  .union([
    z.number().int().min(0),
    z
      .string()
      .max(5)
      .regex(/^[0-9]+%$/, 'must be a whole number or a percentage like 25%'),
  ])
  .meta({ 'x-kubernetes-int-or-string': true });
export type IntOrPercent = z.infer<typeof IntOrPercent>;

export const Condition = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: z.string().optional(),
  lastUpdateTime: z.string().optional(),
  observedGeneration: z.number().int().optional(),
});
export type Condition = z.infer<typeof Condition>;

/** A reference to a key of a Secret in the object's namespace. */
export const SecretKeyRef = z.object({
  name: z.string().min(1),
  key: z.string().min(1),
});
export type SecretKeyRef = z.infer<typeof SecretKeyRef>;
