// The Rollout resource: the zod schema is the single source; crds/rollout.yaml is generated from it.
import { z } from 'zod';
import { Condition, Duration, IntOrPercent, LabelSelector, ObjectMeta, Opaque } from './meta.ts';

/** Labels and annotations added to pods (canaryMetadata, stableMetadata, previewMetadata, activeMetadata). */
export const PodMetadata = z.object({
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type PodMetadata = z.infer<typeof PodMetadata>;

/** Spreads the new revision's pods away from the old revision's nodes (as in Argo Rollouts). */
export const AntiAffinity = z
  .object({
    preferredDuringSchedulingIgnoredDuringExecution: z.object({ weight: z.number().int().min(1).max(100) }).optional(),
    requiredDuringSchedulingIgnoredDuringExecution: z.object({}).optional(),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'has(self.preferredDuringSchedulingIgnoredDuringExecution) != has(self.requiredDuringSchedulingIgnoredDuringExecution)',
        message: 'antiAffinity must set exactly one of preferredDuringSchedulingIgnoredDuringExecution and requiredDuringSchedulingIgnoredDuringExecution',
      },
    ],
  });
export type AntiAffinity = z.infer<typeof AntiAffinity>;

/** On every ReplicaSet of a Rollout: its revision number (1, 2, …; reusing an old ReplicaSet gives it the next number, as Deployments do). */
export const REVISION_ANNOTATION = 'sluice.dev/revision';

export const AnalysisArgValueFrom = z.object({
  podTemplateHashValue: z.enum(['Stable', 'Latest']).optional().describe('The stable or the latest pod-template hash'),
  fieldRef: z
    .object({ fieldPath: z.string().min(1) })
    .optional()
    .describe('A field of the Rollout, e.g. metadata.name'),
});

export const RolloutAnalysisArg = z.object({
  name: z.string().min(1),
  value: z.string().optional(),
  valueFrom: AnalysisArgValueFrom.optional(),
});
export type RolloutAnalysisArg = z.infer<typeof RolloutAnalysisArg>;

export const AnalysisTemplateRef = z.object({
  templateName: z.string().min(1),
  clusterScope: z.boolean().optional().describe('Refer to a ClusterAnalysisTemplate'),
});
export type AnalysisTemplateRef = z.infer<typeof AnalysisTemplateRef>;

/** Analysis as used by a step, by background analysis and by blue-green hooks. */
export const RolloutAnalysis = z.object({
  templates: z.array(AnalysisTemplateRef).min(1),
  args: z.array(RolloutAnalysisArg).optional(),
  // Argo Rollouts fields Sluice accepts but does not implement (an InvalidSpec condition says so):
  dryRun: z
    .array(z.object({ metricName: z.string() }))
    .optional()
    .describe('Argo Rollouts: metrics whose failures do not count. Not implemented: the Rollout gets an InvalidSpec condition'),
  measurementRetention: z
    .array(z.object({ metricName: z.string(), limit: z.number().int() }))
    .optional()
    .describe('Argo Rollouts: measurements kept per metric. Not implemented: the Rollout gets an InvalidSpec condition'),
  analysisRunMetadata: PodMetadata.optional().describe(
    'Argo Rollouts: labels and annotations for the AnalysisRun. Not implemented: the Rollout gets an InvalidSpec condition',
  ),
});
export type RolloutAnalysis = z.infer<typeof RolloutAnalysis>;

export const BackgroundAnalysis = RolloutAnalysis.extend({
  startingStep: z.number().int().min(0).optional().describe('Index of the step from which background analysis runs'),
});
export type BackgroundAnalysis = z.infer<typeof BackgroundAnalysis>;

export const SetCanaryScale = z.object({
  replicas: z.number().int().min(0).optional(),
  weight: z.number().int().min(0).max(100).optional(),
  matchTrafficWeight: z.boolean().optional(),
});
export type SetCanaryScale = z.infer<typeof SetCanaryScale>;

const NOT_IMPLEMENTED = 'Not implemented: the Rollout gets an InvalidSpec condition';

export const CanaryStep = z
  .object({
    setWeight: z.number().int().min(0).max(100).optional(),
    pause: z.object({ duration: Duration.optional() }).optional(),
    analysis: RolloutAnalysis.optional(),
    setCanaryScale: SetCanaryScale.optional(),
    experiment: Opaque.optional().describe(`Argo Rollouts experiment step. ${NOT_IMPLEMENTED}`),
    plugin: Opaque.optional().describe(`Argo Rollouts step plugin. ${NOT_IMPLEMENTED}`),
    setHeaderRoute: Opaque.optional().describe(`Argo Rollouts header routing (needs trafficRouting). ${NOT_IMPLEMENTED}`),
    setMirrorRoute: Opaque.optional().describe(`Argo Rollouts mirror routing (needs trafficRouting). ${NOT_IMPLEMENTED}`),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule:
          '[has(self.setWeight), has(self.pause), has(self.analysis), has(self.setCanaryScale), has(self.experiment), has(self.plugin), ' +
          'has(self.setHeaderRoute), has(self.setMirrorRoute)].filter(x, x).size() == 1',
        message: 'each step sets exactly one of setWeight, pause, analysis, setCanaryScale, experiment, plugin, setHeaderRoute, setMirrorRoute',
      },
    ],
  });
export type CanaryStep = z.infer<typeof CanaryStep>;

export const CanaryStrategy = z.object({
  steps: z.array(CanaryStep).max(100).optional(),
  stableService: z.string().optional().describe('Service whose selector is pinned to the stable pod-template hash'),
  canaryService: z.string().optional().describe('Service whose selector is pinned to the canary pod-template hash'),
  maxSurge: IntOrPercent.optional(),
  maxUnavailable: IntOrPercent.optional(),
  scaleDownDelaySeconds: z.number().int().min(0).optional(),
  abortScaleDownDelaySeconds: z.number().int().min(0).optional(),
  dynamicStableScale: z.boolean().optional(),
  analysis: BackgroundAnalysis.optional(),
  scaleDownDelayRevisionLimit: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('How many old ReplicaSets may wait out scaleDownDelaySeconds at once; older ones are scaled down at once'),
  minPodsPerReplicaSet: z.number().int().min(1).optional().describe('Each of the stable and canary ReplicaSets runs at least this many pods when it runs any'),
  antiAffinity: AntiAffinity.optional(),
  canaryMetadata: PodMetadata.optional().describe('Labels and annotations for canary pods while they are the canary'),
  stableMetadata: PodMetadata.optional().describe('Labels and annotations for stable pods'),
  replicaProgressThreshold: z
    .object({ type: z.enum(['Percent', 'Pod']), value: z.number().int() })
    .optional()
    .describe('A step is reached when this many (or this percent) of the canary pods are available'),
  trafficRouting: Opaque.optional().describe(
    `Argo Rollouts traffic routing through a mesh, ingress or plugin. ${NOT_IMPLEMENTED}: Sluice routes by replica counts`,
  ),
  pingPong: Opaque.optional().describe(`Argo Rollouts ping-pong Services (needs trafficRouting). ${NOT_IMPLEMENTED}`),
});
export type CanaryStrategy = z.infer<typeof CanaryStrategy>;

export const BlueGreenStrategy = z.object({
  activeService: z.string().min(1),
  previewService: z.string().optional(),
  autoPromotionEnabled: z.boolean().optional(),
  autoPromotionSeconds: z.number().int().min(0).optional(),
  previewReplicaCount: z.number().int().min(0).optional(),
  scaleDownDelaySeconds: z.number().int().min(0).optional(),
  prePromotionAnalysis: RolloutAnalysis.optional(),
  postPromotionAnalysis: RolloutAnalysis.optional(),
  scaleDownDelayRevisionLimit: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('How many old ReplicaSets may wait out scaleDownDelaySeconds at once; older ones are scaled down at once'),
  abortScaleDownDelaySeconds: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('After an abort, the preview ReplicaSet is scaled down after this long (default 30; 0: kept)'),
  antiAffinity: AntiAffinity.optional(),
  previewMetadata: PodMetadata.optional().describe('Labels and annotations for the pods of the revision in preview'),
  activeMetadata: PodMetadata.optional().describe('Labels and annotations for the pods behind the active Service'),
  maxUnavailable: IntOrPercent.optional().describe('Old pods that may be unavailable while the active revision is scaled back up'),
});
export type BlueGreenStrategy = z.infer<typeof BlueGreenStrategy>;

export const RolloutStrategy = z
  .object({
    canary: CanaryStrategy.optional(),
    blueGreen: BlueGreenStrategy.optional(),
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: 'has(self.canary) != has(self.blueGreen)', message: 'exactly one of strategy.canary and strategy.blueGreen must be set' },
    ],
  });
export type RolloutStrategy = z.infer<typeof RolloutStrategy>;

export const WorkloadRef = z.object({
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  name: z.string().min(1),
  scaleDown: z
    .enum(['never', 'onsuccess', 'progressively'])
    .optional()
    .describe('What happens to the referenced Deployment: never (default), onsuccess (scaled to 0 once Healthy), progressively (down as the Rollout comes up)'),
});
export type WorkloadRef = z.infer<typeof WorkloadRef>;

export const RolloutSpec = z.object({
  replicas: z.number().int().min(0).optional(),
  selector: LabelSelector.optional().describe("Required unless workloadRef is set (then the Deployment's selector is used)"),
  template: Opaque.optional().describe('A pod template, as in a Deployment; empty when workloadRef is set'),
  workloadRef: WorkloadRef.optional().describe('Take the pod template (and selector) from this Deployment'),
  revisionHistoryLimit: z.number().int().min(0).optional(),
  minReadySeconds: z.number().int().min(0).optional(),
  paused: z.boolean().optional(),
  progressDeadlineSeconds: z.number().int().min(1).optional(),
  progressDeadlineAbort: z.boolean().optional(),
  restartAt: z.string().optional().describe('Pods created before this time are recreated (RFC 3339)'),
  strategy: RolloutStrategy,
  rollbackWindow: z
    .object({ revisions: z.number().int().min(0).optional() })
    .optional()
    .describe('Going back to one of the last N revisions skips the steps (as going back to stable does)'),
  analysis: z
    .object({ successfulRunHistoryLimit: z.number().int().min(0).optional(), unsuccessfulRunHistoryLimit: z.number().int().min(0).optional() })
    .optional()
    .describe('How many finished AnalysisRuns to keep (Argo Rollouts). Not implemented: the Rollout gets an InvalidSpec condition'),
});
export type RolloutSpec = z.infer<typeof RolloutSpec>;

export const PauseReason = z.enum(['CanaryPauseStep', 'BlueGreenPause', 'InconclusiveAnalysis', 'UserPause']);
export type PauseReason = z.infer<typeof PauseReason>;

export const PauseCondition = z.object({
  reason: PauseReason,
  startTime: z.string(),
});
export type PauseCondition = z.infer<typeof PauseCondition>;

export const Phase = z.enum(['Healthy', 'Progressing', 'Paused', 'Degraded']);
export type Phase = z.infer<typeof Phase>;

export const AnalysisSummary = z.object({
  name: z.string().describe('The AnalysisRun'),
  kind: z.enum(['step', 'background', 'prePromotion', 'postPromotion']),
  phase: z.string(),
  message: z.string().optional(),
});
export type AnalysisSummary = z.infer<typeof AnalysisSummary>;

export const RolloutStatus = z.object({
  phase: Phase.optional(),
  message: z.string().optional(),
  observedGeneration: z.number().int().optional(),
  currentStepIndex: z.number().int().min(0).optional(),
  stepCount: z.number().int().min(0).optional(),
  currentStepStartedAt: z.string().optional().describe('When the current step was entered'),
  stableRS: z.string().optional().describe('Pod-template hash of the stable revision'),
  currentPodHash: z.string().optional().describe('Pod-template hash of the desired revision'),
  currentRevision: z.number().int().optional(),
  replicas: z.number().int().optional(),
  updatedReplicas: z.number().int().optional(),
  readyReplicas: z.number().int().optional(),
  availableReplicas: z.number().int().optional(),
  selector: z.string().optional().describe('Label selector as a string, for the scale subresource'),
  desiredWeight: z.number().int().optional().describe('Canary weight the current step asks for'),
  actualWeight: z.number().int().optional().describe('Canary share of ready pods behind a Service that selects both revisions'),
  pauseConditions: z.array(PauseCondition).optional(),
  controllerPause: z.boolean().optional(),
  abort: z.boolean().optional(),
  abortedAt: z.string().optional(),
  abortMessage: z.string().optional().describe('Why the rollout was aborted (metric, value, threshold and step when analysis decided)'),
  promoteFull: z.boolean().optional(),
  retries: z.number().int().min(0).optional().describe('Times the rollout was retried after an abort; part of AnalysisRun names'),
  restartedAt: z.string().optional(),
  progressStartedAt: z.string().optional().describe('Start of the current progress-deadline window'),
  pausedSeconds: z.number().optional().describe('Time paused within the current progress-deadline window'),
  activeSelector: z.string().optional().describe('Blue-green: the hash the active Service selects'),
  previewSelector: z.string().optional().describe('Blue-green: the hash the preview Service selects'),
  previewReadyAt: z.string().optional().describe('Blue-green: when the preview ReplicaSet became fully available'),
  scaleDownAt: z.record(z.string(), z.string()).optional().describe('Pod-template hash -> time its ReplicaSet is scaled down'),
  gitRevision: z.string().optional().describe('The Git commit this revision came from, when applied by a GitSync'),
  workloadObservedGeneration: z.string().optional().describe('workloadRef: the generation of the Deployment the template was taken from'),
  analysis: AnalysisSummary.optional(),
  conditions: z.array(Condition).optional(),
});
export type RolloutStatus = z.infer<typeof RolloutStatus>;

export const Rollout = z.object({
  apiVersion: z.string(),
  kind: z.literal('Rollout'),
  metadata: ObjectMeta,
  spec: RolloutSpec,
  status: RolloutStatus.optional(),
});
export type Rollout = z.infer<typeof Rollout>;
