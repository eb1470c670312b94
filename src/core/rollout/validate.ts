// Checks a Rollout for what the CRD schema cannot say; each problem is a message a user can act on.
import { durationToMs } from '../../api/duration.ts';
import type { Rollout } from '../../api/rollout.ts';
import type { Service } from '../../api/workload.ts';
import { selectorMatches } from '../shared/selectors.ts';

export function referencedServices(rollout: Rollout): string[] {
  const { canary, blueGreen } = rollout.spec.strategy;
  const names = [canary?.stableService, canary?.canaryService, blueGreen?.activeService, blueGreen?.previewService];
  return [...new Set(names.filter((n): n is string => !!n))];
}

export function validateRollout(rollout: Rollout, services: Record<string, Service | undefined>): string[] {
  const problems: string[] = [];
  const { spec } = rollout;
  const { canary, blueGreen } = spec.strategy;
  if (!!canary === !!blueGreen) problems.push('spec.strategy: exactly one of canary and blueGreen must be set');
  const matchLabels = spec.selector.matchLabels ?? {};
  if (Object.keys(matchLabels).length === 0 && (spec.selector.matchExpressions ?? []).length === 0) {
    problems.push('spec.selector: must not be empty (it would select every pod in the namespace)');
  }
  const template = spec.template as { metadata?: { labels?: Record<string, string> }; spec?: { containers?: unknown[] } };
  const labels = template.metadata?.labels ?? {};
  if (!selectorMatches(spec.selector, labels)) {
    problems.push(`spec.selector does not match spec.template.metadata.labels (${JSON.stringify(labels)})`);
  }
  if (!Array.isArray(template.spec?.containers) || template.spec.containers.length === 0) {
    problems.push('spec.template.spec.containers: at least one container is required');
  }
  (canary?.steps ?? []).forEach((step, i) => {
    const set = [step.setWeight !== undefined, !!step.pause, !!step.analysis, !!step.setCanaryScale].filter(Boolean).length;
    if (set !== 1) problems.push(`spec.strategy.canary.steps[${i}]: set exactly one of setWeight, pause, analysis, setCanaryScale`);
    if (step.pause?.duration !== undefined) {
      try {
        durationToMs(step.pause.duration);
      } catch (err) {
        problems.push(`spec.strategy.canary.steps[${i}].pause.duration: ${(err as Error).message}`);
      }
    }
  });
  if (canary?.stableService && canary.stableService === canary.canaryService) {
    problems.push('spec.strategy.canary: stableService and canaryService must be different Services');
  }
  if (blueGreen?.previewService && blueGreen.previewService === blueGreen.activeService) {
    problems.push('spec.strategy.blueGreen: activeService and previewService must be different Services');
  }
  for (const name of referencedServices(rollout)) {
    if (!services[name]) problems.push(`Service "${name}" not found in namespace ${rollout.metadata.namespace ?? ''}`);
  }
  return problems;
}
