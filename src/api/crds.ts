// Every CRD Sluice serves, defined from the zod schemas. `npm run crds` writes crds/.
import type { CrdDefinition } from './crd.ts';
import { RolloutSpec, RolloutStatus } from './rollout.ts';
import { AnalysisRunSpec, AnalysisRunStatus, AnalysisTemplateSpec } from './analysis.ts';
import { GitSyncSpec, GitSyncStatus } from './git-sync.ts';
import { NotificationPolicySpec, NotificationPolicyStatus } from './notification-policy.ts';

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

export const analysisTemplateCrd: CrdDefinition = {
  kind: 'AnalysisTemplate',
  plural: 'analysistemplates',
  singular: 'analysistemplate',
  shortNames: ['sat'],
  scope: 'Namespaced',
  spec: AnalysisTemplateSpec,
  printerColumns: [],
};

export const clusterAnalysisTemplateCrd: CrdDefinition = {
  kind: 'ClusterAnalysisTemplate',
  plural: 'clusteranalysistemplates',
  singular: 'clusteranalysistemplate',
  shortNames: ['scat'],
  scope: 'Cluster',
  spec: AnalysisTemplateSpec,
  printerColumns: [],
};

export const analysisRunCrd: CrdDefinition = {
  kind: 'AnalysisRun',
  plural: 'analysisruns',
  singular: 'analysisrun',
  shortNames: ['sar'],
  scope: 'Namespaced',
  spec: AnalysisRunSpec,
  status: AnalysisRunStatus,
  printerColumns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    {
      name: 'Kind',
      type: 'string',
      jsonPath: ".metadata.labels['sluice\\.dev/analysis-kind']",
      description: 'step, background, prePromotion or postPromotion',
    },
    {
      name: 'Next',
      type: 'string',
      jsonPath: '.status.nextMeasurementAt',
      description: 'When the next measurement is due (RFC 3339; a date column shows a future time as <invalid>)',
      priority: 1,
    },
    { name: 'Message', type: 'string', jsonPath: '.status.message', priority: 1 },
  ],
};

export const gitSyncCrd: CrdDefinition = {
  kind: 'GitSync',
  plural: 'gitsyncs',
  singular: 'gitsync',
  shortNames: ['gs'],
  scope: 'Namespaced',
  spec: GitSyncSpec,
  status: GitSyncStatus,
  printerColumns: [
    { name: 'URL', type: 'string', jsonPath: '.spec.url', priority: 1 },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'Commit', type: 'string', jsonPath: '.status.lastSyncedCommit', description: 'Last commit applied in full' },
    { name: 'Last Sync', type: 'date', jsonPath: '.status.lastSyncTime' },
    // A string, not a date: kubectl shows a date column as an age and prints <invalid> for a time in the future.
    { name: 'Next Sync', type: 'string', jsonPath: '.status.nextSyncAt', description: 'When the next sync is due (RFC 3339)', priority: 1 },
    { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspend', priority: 1 },
    { name: 'Message', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].message', priority: 1 },
  ],
};

export const notificationPolicyCrd: CrdDefinition = {
  kind: 'NotificationPolicy',
  plural: 'notificationpolicies',
  singular: 'notificationpolicy',
  shortNames: ['snp'],
  scope: 'Namespaced',
  spec: NotificationPolicySpec,
  status: NotificationPolicyStatus,
  printerColumns: [
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'Last Delivery', type: 'date', jsonPath: '.status.lastDeliveryAt' },
    { name: 'Message', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].message', priority: 1 },
  ],
};

/** File name (under crds/) -> definition. */
export const crdFiles: Record<string, CrdDefinition> = {
  'rollout.yaml': rolloutCrd,
  'analysistemplate.yaml': analysisTemplateCrd,
  'clusteranalysistemplate.yaml': clusterAnalysisTemplateCrd,
  'analysisrun.yaml': analysisRunCrd,
  'gitsync.yaml': gitSyncCrd,
  'notificationpolicy.yaml': notificationPolicyCrd,
};
