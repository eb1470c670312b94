// Canary step helpers: what the current step asks for.
import { durationToMs, formatMs } from '../../api/duration.ts';
import type { CanaryStep } from '../../api/rollout.ts';
import { canaryReplicasForWeight } from './replicas.ts';

/** The weight in force at step index i: the last setWeight at or before it (0 before any). */
export function weightAtStep(steps: CanaryStep[], index: number): number {
  for (let i = Math.min(index, steps.length - 1); i >= 0; i--) {
    const w = steps[i]?.setWeight;
    if (w !== undefined) return w;
  }
  return 0;
}

/** Canary replicas asked for explicitly by a setCanaryScale in force at step i, if any. */
export function canaryScaleAtStep(steps: CanaryStep[], index: number, replicas: number): number | undefined {
  for (let i = Math.min(index, steps.length - 1); i >= 0; i--) {
    const scale = steps[i]?.setCanaryScale;
    if (!scale) continue;
    if (scale.matchTrafficWeight) return undefined;
    if (scale.replicas !== undefined) return scale.replicas;
    if (scale.weight !== undefined) return canaryReplicasForWeight(replicas, scale.weight);
    return undefined;
  }
  return undefined;
}

export function describeStep(step: CanaryStep | undefined): string {
  if (!step) return 'done';
  if (step.setWeight !== undefined) return `setWeight ${step.setWeight}`;
  if (step.pause) return step.pause.duration === undefined ? 'pause (until promoted)' : `pause ${formatMs(durationToMs(step.pause.duration))}`;
  if (step.analysis) return `analysis ${step.analysis.templates.map((t) => t.templateName).join(', ')}`;
  if (step.setCanaryScale) return `setCanaryScale ${JSON.stringify(step.setCanaryScale)}`;
  return 'empty step';
}

/** "3/6": steps are shown 1-based. */
export function stepLabel(index: number, count: number): string {
  return `${Math.min(index + 1, count)}/${count}`;
}
