// A plan replayed from plain data: (observed, now) as JSON, e.g. a golden case or the
// controller's trace-level "Observed" log line, parsed with the same schemas the controller
// uses and planned again. Pure; scripts/replay-plan.ts is the command around it.
import { z } from 'zod';
import { AnalysisTemplateSpec } from '../../api/analysis.ts';
import { Rollout } from '../../api/rollout.ts';
import { Pod, ReplicaSet, Service } from '../../api/workload.ts';
import type { Result } from '../shared/result.ts';
import { formatIssues } from '../shared/zod-issues.ts';
import { plan } from './plan.ts';
import type { Observed, Plan } from './types.ts';

const ObservedJson = z.object({
  rollout: Rollout,
  replicaSets: z.array(ReplicaSet),
  pods: z.array(Pod),
  // JSON has no undefined: a Service that was missing is absent or null.
  services: z.record(z.string(), Service.nullable()),
  analysisRuns: z.array(
    z.object({ name: z.string(), labels: z.record(z.string(), z.string()), phase: z.string(), message: z.string().optional(), terminated: z.boolean() }),
  ),
  analysisTemplates: z.array(z.object({ clusterScope: z.boolean(), name: z.string(), spec: AnalysisTemplateSpec })).optional(),
  equivalentHash: z.string().optional(),
  templateError: z.string().optional(),
});

export const ReplayInput = z.object({ observed: ObservedJson, now: z.iso.datetime() });

export interface ReplayCase {
  observed: Observed;
  now: Date;
}

/** Parses (observed, now) from JSON already decoded; the error names the bad fields. */
export function parseReplayInput(json: unknown): Result<ReplayCase> {
  const parsed = ReplayInput.safeParse(json);
  if (!parsed.success) return { ok: false, error: `not a replayable plan input: ${formatIssues(parsed.error.issues)}` };
  const { observed, now } = parsed.data;
  const services = Object.fromEntries(Object.entries(observed.services).map(([name, svc]) => [name, svc ?? undefined]));
  const analysisRuns = observed.analysisRuns.map(({ message, ...run }) => ({ ...run, ...(message !== undefined ? { message } : {}) }));
  const { equivalentHash, templateError, analysisTemplates } = observed;
  return {
    ok: true,
    value: {
      observed: {
        rollout: observed.rollout,
        replicaSets: observed.replicaSets,
        pods: observed.pods,
        services,
        analysisRuns,
        ...(analysisTemplates ? { analysisTemplates } : {}),
        ...(equivalentHash !== undefined ? { equivalentHash } : {}),
        ...(templateError !== undefined ? { templateError } : {}),
      },
      now: new Date(now),
    },
  };
}

/** The plan the controller would make for this input. */
export function replayPlan(json: unknown): Result<Plan> {
  const input = parseReplayInput(json);
  return input.ok ? { ok: true, value: plan(input.value.observed, input.value.now) } : input;
}
