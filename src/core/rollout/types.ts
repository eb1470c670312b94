// What the pure core sees and what it decides.
import type { AnalysisKind } from '../../api/analysis.ts';
import type { Rollout, RolloutAnalysis, RolloutStatus } from '../../api/rollout.ts';
import type { Pod, ReplicaSet, Service } from '../../api/workload.ts';

/** An analysis run as the rollout engine sees it (the full resource lives in api/analysis.ts). */
export interface ObservedAnalysisRun {
  name: string;
  labels: Record<string, string>;
  phase: string; // Pending, Running, Successful, Failed, Error, Inconclusive
  message?: string;
  terminated: boolean;
}

export interface AnalysisRunRequest {
  rollout: Rollout;
  analysis: RolloutAnalysis;
  kind: AnalysisKind;
  name: string;
  stableHash: string;
  latestHash: string;
  stepIndex: number | undefined;
  now: Date;
}

/** Builds the AnalysisRun to create from the templates the controller has observed (pure). */
export type BuildAnalysisRun = (request: AnalysisRunRequest) => { run: Record<string, unknown> } | { error: string };

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
  /** Present when analysis is wired in: builds runs from the observed templates. */
  buildAnalysisRun?: BuildAnalysisRun;
}

export type Action =
  | { type: 'createReplicaSet'; replicaSet: ReplicaSet }
  | { type: 'scaleReplicaSet'; name: string; replicas: number; annotations?: Record<string, string | null> }
  | { type: 'deleteReplicaSet'; name: string }
  | { type: 'setServiceSelector'; service: string; hash: string | null }
  | { type: 'deletePod'; name: string }
  | { type: 'createAnalysisRun'; run: Record<string, unknown> }
  | { type: 'terminateAnalysisRun'; name: string }
  | { type: 'setFinalizer'; present: boolean }
  | { type: 'event'; eventType: 'Normal' | 'Warning'; reason: string; message: string };

export interface Plan {
  actions: Action[];
  status: RolloutStatus;
  /** When to look again even if nothing changes (pause end, deadline, delayed scale-down). */
  requeueAfterMs?: number;
}
