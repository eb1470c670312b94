// Checks a Rollout for what the CRD schema cannot say; each problem is a message a user can act on.
import { durationToMs } from '../../api/duration.ts';
import type { Rollout, RolloutAnalysis } from '../../api/rollout.ts';
import type { Service } from '../../api/workload.ts';
import { selectorMatches } from '../shared/selectors.ts';

export function referencedServices(rollout: Rollout): string[] {
  const { canary, blueGreen } = rollout.spec.strategy;
  const names = [canary?.stableService, canary?.canaryService, blueGreen?.activeService, blueGreen?.previewService];
  return [...new Set(names.filter((n): n is string => !!n))];
}

/**
 * Fields of Argo Rollouts' Rollout that the CRD accepts (so its manifests apply) but Sluice does
 * not implement. Each is named with what to do instead; none is ignored quietly.
 */
export function notImplemented(rollout: Rollout): string[] {
  const problems: string[] = [];
  const { spec } = rollout;
  const { canary, blueGreen } = spec.strategy;
  if (canary?.trafficRouting) {
    const routers = Object.keys(canary.trafficRouting).filter((k) => !['managedRoutes', 'maxTrafficWeight'].includes(k));
    problems.push(
      `spec.strategy.canary.trafficRouting${routers.length ? ` (${routers.join(', ')})` : ''} is not supported: Sluice ` +
        `moves traffic by replica counts behind ` +
        "a Service that selects both revisions; remove trafficRouting (weights then follow the canary's share of pods), or keep this Rollout on Argo Rollouts",
    );
  }
  if (canary?.pingPong) problems.push('spec.strategy.canary.pingPong is not supported (it needs trafficRouting); use stableService and canaryService');
  (canary?.steps ?? []).forEach((step, i) => {
    const at = `spec.strategy.canary.steps[${i}]`;
    if (step.experiment) problems.push(`${at}.experiment is not supported: use an analysis step against the canary (args from podTemplateHashValue: Latest)`);
    if (step.plugin) problems.push(`${at}.plugin is not supported: step plugins do not exist in Sluice; remove the step`);
    if (step.setHeaderRoute) problems.push(`${at}.setHeaderRoute is not supported (it needs trafficRouting); route by replica weight with setWeight`);
    if (step.setMirrorRoute) problems.push(`${at}.setMirrorRoute is not supported (it needs trafficRouting); remove the step`);
  });
  const analyses: Array<[string, RolloutAnalysis | undefined]> = [
    ['spec.strategy.canary.analysis', canary?.analysis],
    ['spec.strategy.blueGreen.prePromotionAnalysis', blueGreen?.prePromotionAnalysis],
    ['spec.strategy.blueGreen.postPromotionAnalysis', blueGreen?.postPromotionAnalysis],
    ...(canary?.steps ?? []).map((s, i): [string, RolloutAnalysis | undefined] => [`spec.strategy.canary.steps[${i}].analysis`, s.analysis]),
  ];
  for (const [path, a] of analyses) {
    if (a?.dryRun?.length) problems.push(`${path}.dryRun is not supported: a failing metric always counts in Sluice; remove dryRun or the metric`);
    if (a?.measurementRetention?.length) problems.push(`${path}.measurementRetention is not supported: remove it (Sluice keeps every measurement of a run)`);
    if (a?.analysisRunMetadata) problems.push(`${path}.analysisRunMetadata is not supported: remove it (AnalysisRuns carry the Rollout's labels only)`);
  }
  if (spec.rollbackWindow) {
    problems.push('spec.rollbackWindow is not supported: only going back to the stable revision skips the steps; remove rollbackWindow');
  }
  if (spec.analysis) problems.push('spec.analysis (AnalysisRun history limits) is not supported: remove it (AnalysisRuns are deleted with their Rollout)');
  return problems;
}

export function validateRollout(rollout: Rollout, services: Record<string, Service | undefined>, resolvedFromRef = false): string[] {
  const problems: string[] = [];
  const { spec } = rollout;
  const { canary, blueGreen } = spec.strategy;
  if (!!canary === !!blueGreen) problems.push('spec.strategy: exactly one of canary and blueGreen must be set');
  const selector = spec.selector ?? {};
  const matchLabels = selector.matchLabels ?? {};
  if (!spec.selector) {
    problems.push('spec.selector: required (or set spec.workloadRef to take it from a Deployment)');
  } else if (Object.keys(matchLabels).length === 0 && (selector.matchExpressions ?? []).length === 0) {
    problems.push('spec.selector: must not be empty (it would select every pod in the namespace)');
  }
  const template = (spec.template ?? {}) as { metadata?: { labels?: Record<string, string> }; spec?: { containers?: unknown[] } };
  const labels = template.metadata?.labels ?? {};
  if (spec.selector && !selectorMatches(selector, labels)) {
    problems.push(`spec.selector does not match spec.template.metadata.labels (${JSON.stringify(labels)})`);
  }
  if (!Array.isArray(template.spec?.containers) || template.spec.containers.length === 0) {
    problems.push('spec.template.spec.containers: at least one container is required');
  }
  (canary?.steps ?? []).forEach((step, i) => {
    const kinds = [
      step.setWeight !== undefined,
      !!step.pause,
      !!step.analysis,
      !!step.setCanaryScale,
      !!step.experiment,
      !!step.plugin,
      !!step.setHeaderRoute,
      !!step.setMirrorRoute,
    ];
    if (kinds.filter(Boolean).length !== 1) problems.push(`spec.strategy.canary.steps[${i}]: set exactly one of setWeight, pause, analysis, setCanaryScale`);
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
  problems.push(...notImplemented(rollout));
  if (canary?.dynamicStableScale && canary.scaleDownDelaySeconds !== undefined) {
    problems.push('spec.strategy.canary: dynamicStableScale cannot be used with scaleDownDelaySeconds (as in Argo Rollouts); remove one of them');
  }
  const historyLimit = spec.revisionHistoryLimit ?? 10;
  for (const [path, limit] of [
    ['spec.strategy.canary.scaleDownDelayRevisionLimit', canary?.scaleDownDelayRevisionLimit],
    ['spec.strategy.blueGreen.scaleDownDelayRevisionLimit', blueGreen?.scaleDownDelayRevisionLimit],
  ] as const) {
    if (limit !== undefined && limit > historyLimit) problems.push(`${path} (${limit}) must not be larger than spec.revisionHistoryLimit (${historyLimit})`);
  }
  if (spec.workloadRef && spec.template && Object.keys(spec.template).length > 0 && !resolvedFromRef) {
    problems.push('spec.template: must be empty when spec.workloadRef is set (the template comes from the Deployment)');
  }
  if (spec.workloadRef && (spec.workloadRef.apiVersion !== 'apps/v1' || spec.workloadRef.kind !== 'Deployment')) {
    problems.push(`spec.workloadRef: only apps/v1 Deployment is supported, not ${spec.workloadRef.apiVersion} ${spec.workloadRef.kind}`);
  }
  for (const name of referencedServices(rollout)) {
    if (!services[name]) problems.push(`Service "${name}" not found in namespace ${rollout.metadata.namespace ?? ''}`);
  }
  return problems;
}
