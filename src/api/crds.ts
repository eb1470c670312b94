// Every CRD Sluice serves, defined from the zod schemas. `npm run crds` writes crds/.
import type { CrdDefinition } from './crd.ts';
import { RolloutSpec, RolloutStatus } from './rollout.ts';

export const rolloutCrd: CrdDefinition = {
  kind: 'Rollout',
  plural: 'rollouts',
  singular: 'rollout',
  shortNames: ['sro'],
  scope: 'Namespaced',
  spec: RolloutSpec,
  status: RolloutStatus,
  printerColumns: [
    { name: 'Desired', type: 'integer', jsonPath: '.spec.replicas' },
    { name: 'Available', type: 'integer', jsonPath: '.status.availableReplicas' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Step', type: 'integer', jsonPath: '.status.currentStepIndex' },
    { name: 'Weight', type: 'integer', jsonPath: '.status.desiredWeight', description: 'Desired canary weight' },
    { name: 'Actual', type: 'integer', jsonPath: '.status.actualWeight', description: 'Actual canary share of ready pods' },
    { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
  ],
  scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
};

/** File name (under crds/) -> definition. */
export const crdFiles: Record<string, CrdDefinition> = {
  'rollout.yaml': rolloutCrd,
};
