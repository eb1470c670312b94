// The built-in objects the rollout engine reads, parsed leniently: only the fields it uses.
import { z } from 'zod';
import { ObjectMeta } from './meta.ts';

export const OwnerReference = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
});

const Meta = ObjectMeta.extend({ ownerReferences: z.array(OwnerReference).optional(), finalizers: z.array(z.string()).optional() });

export const ReplicaSet = z.looseObject({
  metadata: Meta,
  spec: z.looseObject({
    replicas: z.number().int().optional(),
    template: z.looseObject({ metadata: z.looseObject({ labels: z.record(z.string(), z.string()).optional() }).optional() }).optional(),
  }),
  status: z
    .looseObject({
      replicas: z.number().int().optional(),
      readyReplicas: z.number().int().optional(),
      availableReplicas: z.number().int().optional(),
      observedGeneration: z.number().int().optional(),
    })
    .optional(),
});
export type ReplicaSet = z.infer<typeof ReplicaSet>;

export const Pod = z.looseObject({
  metadata: Meta,
  spec: z.looseObject({ nodeName: z.string().optional() }).optional(),
  status: z
    .looseObject({
      phase: z.string().optional(),
      conditions: z.array(z.looseObject({ type: z.string(), status: z.string() })).optional(),
    })
    .optional(),
});
export type Pod = z.infer<typeof Pod>;

export const Service = z.looseObject({
  metadata: Meta,
  spec: z.looseObject({ selector: z.record(z.string(), z.string()).optional() }).optional(),
});
export type Service = z.infer<typeof Service>;
