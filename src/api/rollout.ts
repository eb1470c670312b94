// The Rollout resource: the zod schema is the single source; crds/rollout.yaml is generated from it.
import { z } from 'zod';
import { Condition, Duration, IntOrPercent, LabelSelector, ObjectMeta, Opaque } from './meta.ts';

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

export const CanaryStep = z
  .object({
    setWeight: z.number().int().min(0).max(100).optional(),
    pause: z.object({ duration: Duration.optional() }).optional(),
    analysis: RolloutAnalysis.optional(),
    setCanaryScale: SetCanaryScale.optional(),
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '[has(self.setWeight), has(self.pause), has(self.analysis), has(self.setCanaryScale)].filter(x, x).size() == 1',
        message: 'each step sets exactly one of setWeight, pause, analysis, setCanaryScale',
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

export const RolloutSpec = z.object({
  replicas: z.number().int().min(0).optional(),
  selector: LabelSelector,
  template: Opaque.describe('A pod template, as in a Deployment'),
  revisionHistoryLimit: z.number().int().min(0).optional(),
  minReadySeconds: z.number().int().min(0).optional(),
  paused: z.boolean().optional(),
  progressDeadlineSeconds: z.number().int().min(1).optional(),
  progressDeadlineAbort: z.boolean().optional(),
  restartAt: z.string().optional().describe('Pods created before this time are recreated (RFC 3339)'),
  strategy: RolloutStrategy,
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
