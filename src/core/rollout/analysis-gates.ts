// Where a Rollout meets its AnalysisRuns: start them, read their verdicts, and turn a verdict
// into a step decision. Failed or error aborts; inconclusive pauses for a person.
import { ANALYSIS_KIND_LABEL, type AnalysisKind } from '../../api/analysis.ts';
import { POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import type { BlueGreenStrategy, CanaryStrategy, RolloutAnalysis } from '../../api/rollout.ts';
import { analysisRunName, buildAnalysisRun } from '../analysis/build.ts';
import { addPause, event, hasPause, removePause, type Context } from './context.ts';
import { stepLabel } from './steps.ts';

export type Gate = 'Successful' | 'Running' | 'Failed';

function gate(ctx: Context, kind: AnalysisKind, analysis: RolloutAnalysis, where: string, stepIndex?: number): Gate {
  const { status } = ctx;
  // Deterministic, so a restarted controller finds the run it started instead of starting another;
  // a retry after an abort is a new attempt, so it gets new runs.
  const name = analysisRunName(ctx.rollout.metadata.name as string, ctx.newHash, kind, stepIndex, ctx.status.retries ?? 0);
  const run = ctx.observed.analysisRuns.find((r) => r.name === name);
  if (!run) {
    const built = buildAnalysisRun({
      rollout: ctx.rollout,
      analysis,
      templates: ctx.observed.analysisTemplates ?? [],
      kind,
      name,
      ...(status.stableRS ? { stableHash: status.stableRS } : {}),
      latestHash: ctx.newHash,
      ...(stepIndex !== undefined ? { stepIndex } : {}),
    });
    if (!built.ok) {
      status.analysis = { name, kind, phase: 'Error', message: built.error };
      return abortFor(ctx, `analysis ${name} could not start: ${built.error}`, where);
    }
    ctx.actions.push({ type: 'createAnalysisRun', run: built.value });
    event(ctx, 'AnalysisStarted', `Started ${kind} analysis ${name} ${where}`);
    status.analysis = { name, kind, phase: 'Pending' };
    ctx.progress = `Analysis ${name} started ${where}`;
    return 'Running';
  }
  status.analysis = { name, kind, phase: run.phase, ...(run.message ? { message: run.message } : {}) };
  switch (run.phase) {
    case 'Successful':
      if (ctx.previous.analysis?.name !== name || ctx.previous.analysis.phase !== 'Successful')
        event(ctx, 'AnalysisSucceeded', `Analysis ${name} succeeded ${where}`);
      return 'Successful';
    case 'Failed':
    case 'Error':
      return abortFor(ctx, run.message ?? `analysis ${name} ${run.phase.toLowerCase()}`, where);
    case 'Inconclusive':
      if (status.controllerPause && !hasPause(status, 'InconclusiveAnalysis') && ctx.previous.analysis?.phase === 'Inconclusive') {
        // A person promoted past the inconclusive verdict.
        status.controllerPause = undefined;
        return 'Successful';
      }
      if (!hasPause(status, 'InconclusiveAnalysis'))
        event(ctx, 'AnalysisInconclusive', `Analysis ${name} inconclusive ${where}: ${run.message ?? ''}; paused for a person to promote or abort`, 'Warning');
      addPause(ctx, 'InconclusiveAnalysis');
      status.controllerPause = true;
      ctx.progress = `Analysis inconclusive ${where}: ${run.message ?? name}`;
      return 'Running';
    default:
      ctx.progress = `Analysis ${name} ${run.phase.toLowerCase()} ${where}`;
      return 'Running';
  }
}

function abortFor(ctx: Context, reason: string, where: string): Gate {
  const { status } = ctx;
  if (!status.abort) {
    status.abort = true;
    status.abortedAt = ctx.nowIso;
    status.abortMessage = `Rollout aborted: ${reason} ${where}`;
  }
  removePause(ctx, 'InconclusiveAnalysis');
  return 'Failed';
}

export function stepAnalysis(ctx: Context, analysis: RolloutAnalysis, index: number, label: string): Gate {
  return gate(ctx, 'step', analysis, `at step ${label}`, index);
}

/** Background analysis runs from its starting step until promotion; a failure aborts at whatever step it happens. */
export function backgroundAnalysis(ctx: Context, canary: CanaryStrategy, index: number): void {
  const background = canary.analysis;
  if (!background || index < (background.startingStep ?? 0)) return;
  const steps = canary.steps?.length ?? 0;
  const saved = ctx.status.analysis;
  const result = gate(ctx, 'background', background, `at step ${stepLabel(index, steps)}`);
  // The step's own analysis, when there is one, is the one status shows; background shows otherwise.
  if (result !== 'Failed' && saved && saved.kind === 'step') ctx.status.analysis = saved;
}

export function prePromotionAnalysis(ctx: Context, bg: BlueGreenStrategy): Gate {
  return bg.prePromotionAnalysis ? gate(ctx, 'prePromotion', bg.prePromotionAnalysis, 'before promotion') : 'Successful';
}

export function postPromotionAnalysis(ctx: Context, bg: BlueGreenStrategy): Gate {
  return bg.postPromotionAnalysis ? gate(ctx, 'postPromotion', bg.postPromotionAnalysis, 'after promotion') : 'Successful';
}

/** Stops runs that are still measuring and that the rollout no longer needs. */
export function terminateAnalysis(ctx: Context, which: (kind: AnalysisKind) => boolean): void {
  for (const run of ctx.observed.analysisRuns) {
    if (run.terminated || !['Pending', 'Running', ''].includes(run.phase)) continue;
    if (run.labels[POD_TEMPLATE_HASH_LABEL] !== ctx.newHash && run.labels[POD_TEMPLATE_HASH_LABEL] !== undefined) continue;
    if (!which((run.labels[ANALYSIS_KIND_LABEL] ?? 'step') as AnalysisKind)) continue;
    ctx.actions.push({ type: 'terminateAnalysisRun', name: run.name });
  }
}
