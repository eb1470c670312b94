// The facts a Rollout Event carries for its notification, pure: computed when the Event is
// recorded, from the status the same reconcile commits (and the AnalysisRun that decided), so
// the message never depends on state that has moved on by the time it is sent.
import type { AnalysisRunStatus } from '../../api/analysis.ts';
import { EVENT_ANNOTATIONS, type Verdict } from '../../api/notification-policy.ts';
import type { Rollout, RolloutStatus } from '../../api/rollout.ts';
import { getCondition } from '../shared/conditions.ts';

const MAX_TEXT = 500;
const cut = (text: string) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text);

/** The decisive measurement of a finished AnalysisRun: the worst metric, its last verdict. */
export function verdictOf(runName: string, run: AnalysisRunStatus | undefined, summaryPhase?: string, summaryMessage?: string): Verdict {
  const phase = run?.phase ?? summaryPhase;
  const metric =
    (run?.metricResults ?? []).find((m) => m.phase === phase && phase !== 'Successful') ??
    (run?.metricResults ?? []).find((m) => ['Failed', 'Error', 'Inconclusive'].includes(m.phase));
  const last = metric?.measurements?.at(-1);
  const message = run?.message ?? summaryMessage;
  return {
    run: runName,
    ...(phase ? { phase } : {}),
    ...(metric ? { metric: metric.name } : {}),
    ...(last?.value !== undefined ? { value: cut(last.value) } : {}),
    ...(last?.condition ? { condition: cut(last.condition) } : {}),
    ...(message ? { message: cut(message) } : {}),
  };
}

export interface TransitionFacts {
  rollout: Rollout;
  /** The status this reconcile writes. */
  status: RolloutStatus;
  reason: string;
  /** The status of the AnalysisRun status.analysis names, when the cache has it. */
  analysisRun?: AnalysisRunStatus;
}

/** Annotations for a Rollout Event (EVENT_ANNOTATIONS); only facts that are known. */
export function rolloutEventAnnotations({ rollout, status, reason, analysisRun }: TransitionFacts): Record<string, string> {
  const out: Record<string, string> = {};
  const set = (key: string, value: string | number | undefined) => {
    if (value !== undefined && value !== '') out[key] = String(value);
  };
  set(EVENT_ANNOTATIONS.revision, status.currentRevision);
  set(EVENT_ANNOTATIONS.podHash, status.currentPodHash);
  set(EVENT_ANNOTATIONS.gitRevision, status.gitRevision);
  set(EVENT_ANNOTATIONS.phase, status.phase);
  set(EVENT_ANNOTATIONS.retries, status.retries ?? 0);
  const steps = rollout.spec.strategy.canary?.steps;
  if (steps?.length && status.currentStepIndex !== undefined) {
    set(EVENT_ANNOTATIONS.step, `${Math.min(status.currentStepIndex + 1, steps.length)}/${steps.length}`);
  }
  if (reason === 'RolloutPaused') {
    const duration = steps?.[status.currentStepIndex ?? -1]?.pause?.duration;
    set(EVENT_ANNOTATIONS.pauseDuration, duration);
  }
  const analysis = status.analysis;
  const decided = analysis && ['Failed', 'Error', 'Inconclusive'].includes(analysis.phase);
  if (reason === 'RolloutAborted') {
    const deadline =
      getCondition(status.conditions, 'Progressing')?.reason === 'ProgressDeadlineExceeded' && /progressDeadlineSeconds/.test(status.abortMessage ?? '');
    set(EVENT_ANNOTATIONS.cause, decided && analysis.phase !== 'Inconclusive' ? 'analysis' : deadline ? 'progress-deadline' : 'user');
  }
  if (decided && (reason === 'RolloutAborted' || reason === 'AnalysisInconclusive')) {
    out[EVENT_ANNOTATIONS.verdict] = JSON.stringify(verdictOf(analysis.name, analysisRun, analysis.phase, analysis.message));
  }
  return out;
}
