// What the pure core sees and what it decides.
import type { AnalysisRun } from '../../api/analysis.ts';
import type { Rollout, RolloutStatus } from '../../api/rollout.ts';
import type { LoadedTemplate } from '../analysis/build.ts';
import type { Pod, ReplicaSet, Service } from '../../api/workload.ts';

/** An analysis run as the rollout engine sees it (the full resource lives in api/analysis.ts). */
export interface ObservedAnalysisRun {
  name: string;
  labels: Record<string, string>;
  phase: string; // Pending, Running, Successful, Failed, Error, Inconclusive
  message?: string;
  terminated: boolean;
}

export interface Observed {
  rollout: Rollout;
  /** ReplicaSets the Rollout controls. */
  replicaSets: ReplicaSet[];
  /** Pods of those ReplicaSets. */
  pods: Pod[];
  /** Services the strategy names; undefined when missing. */
  services: Record<string, Service | undefined>;
  analysisRuns: ObservedAnalysisRun[];
  /**
   * The pod-template hash of an existing ReplicaSet whose template is what the API server
   * makes of spec.template (its defaults filled in), when that differs from the plain hash:
   * a template copied back from a ReplicaSet (undo) then reuses that ReplicaSet.
   */
  equivalentHash?: string;
  /** Why the API server refuses spec.template as a ReplicaSet's, when it does. */
  templateError?: string;
  /**
   * The AnalysisTemplates and ClusterAnalysisTemplates the Rollout refers to, as read (missing
   * ones are absent). Plain data, like everything here, so a plan can be replayed from JSON.
   */
  analysisTemplates?: LoadedTemplate[];
  /**
   * spec.workloadRef resolved: `rollout` then carries the Deployment's template (and selector, when
   * the Rollout has none). `error` when the Deployment cannot be used.
   */
  workload?: { name: string; replicas: number; generation: number } | { error: string };
}

export type Action =
  | { type: 'createReplicaSet'; replicaSet: ReplicaSet }
  | { type: 'scaleReplicaSet'; name: string; replicas: number; annotations?: Record<string, string | null> }
  | { type: 'deleteReplicaSet'; name: string }
  | { type: 'setServiceSelector'; service: string; hash: string | null }
  | { type: 'evictPod'; name: string }
  /** Labels/annotations of a ReplicaSet's pod template and of the ReplicaSet itself (null removes). */
  | { type: 'patchReplicaSetMetadata'; name: string; annotations: Record<string, string | null>; template: MetadataPatch }
  | { type: 'patchPodMetadata'; name: string; patch: MetadataPatch }
  /** spec.replicas of the Deployment a workloadRef points at. */
  | { type: 'scaleDeployment'; name: string; replicas: number }
  | { type: 'createAnalysisRun'; run: AnalysisRun }
  | { type: 'terminateAnalysisRun'; name: string }
  | { type: 'setFinalizer'; present: boolean }
  | { type: 'event'; eventType: 'Normal' | 'Warning'; reason: string; message: string };

export interface MetadataPatch {
  labels?: Record<string, string | null>;
  annotations?: Record<string, string | null>;
}

export interface Plan {
  actions: Action[];
  status: RolloutStatus;
  /** When to look again even if nothing changes (pause end, deadline, delayed scale-down). */
  requeueAfterMs?: number;
}
