// Revisions: the ReplicaSet of a new pod template, revision numbers, a new desired revision resetting the step state, and the history kept. Pure.
import { GIT_REVISION_ANNOTATION } from '../../api/git-sync.ts';
import { POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import type { ReplicaSet } from '../../api/workload.ts';
import { event, hashOf, REVISION_ANNOTATION, revisionOf, specReplicas, type Context } from './context.ts';
import { EPHEMERAL_METADATA_ANNOTATION } from './ephemeral.ts';

export const DEFAULT_REVISION_HISTORY = 10;

/** A change of desired revision resets the step state; going back to stable is a fast rollback. */
export function noteNewRevision(ctx: Context): void {
  const { status, previous, newHash } = ctx;
  if (previous.currentPodHash === newHash) return;
  // The same number whether or not the ReplicaSet exists yet, so a re-planned transition reads the same.
  const revision = ctx.newRS ? revisionOf(ctx.newRS) : nextRevision(ctx);
  status.currentPodHash = newHash;
  status.currentStepIndex = 0;
  status.currentStepStartedAt = ctx.nowIso;
  status.progressStartedAt = ctx.nowIso;
  status.abort = undefined;
  status.abortedAt = undefined;
  status.promoteFull = undefined;
  status.controllerPause = undefined;
  status.previewReadyAt = undefined;
  status.analysis = undefined;
  status.pauseConditions = (status.pauseConditions ?? []).filter((p) => p.reason === 'UserPause');
  if (status.pauseConditions.length === 0) status.pauseConditions = undefined;
  for (const run of ctx.observed.analysisRuns) {
    if (!run.terminated && run.labels[POD_TEMPLATE_HASH_LABEL] !== newHash) ctx.actions.push({ type: 'terminateAnalysisRun', name: run.name });
  }
  if (previous.currentPodHash === undefined) return;
  if (newHash === status.stableRS) {
    event(ctx, 'RolledBack', `Desired revision is the stable revision ${newHash}: fast rollback, steps skipped`);
  } else {
    event(ctx, 'RolloutUpdated', `New revision ${newHash} (revision ${revision}); starting from the stable revision ${status.stableRS}`);
  }
}

export function nextRevision(ctx: Context): number {
  return Math.max(0, ...ctx.observed.replicaSets.map(revisionOf)) + 1;
}

export function buildReplicaSet(ctx: Context): ReplicaSet {
  const { rollout, newHash } = ctx;
  const template = structuredClone(rollout.spec.template ?? {}) as {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec?: { affinity?: { podAntiAffinity?: Record<string, unknown[]> } };
  };
  template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, [POD_TEMPLATE_HASH_LABEL]: newHash } };
  const rsLabels = { ...template.metadata.labels };
  const revision = nextRevision(ctx);
  const firstRevision = !ctx.status.stableRS || !ctx.rsByHash.has(ctx.status.stableRS);
  const annotations: Record<string, string> = { [REVISION_ANNOTATION]: String(revision) };
  // The pods are created with the metadata of their role (Argo's ephemeral metadata), and away
  // from the stable revision's nodes when antiAffinity asks for it.
  const { canary, blueGreen } = rollout.spec.strategy;
  const role = firstRevision ? (canary?.stableMetadata ?? blueGreen?.activeMetadata) : (canary?.canaryMetadata ?? blueGreen?.previewMetadata);
  if (role && (Object.keys(role.labels ?? {}).length || Object.keys(role.annotations ?? {}).length)) {
    template.metadata.labels = { ...template.metadata.labels, ...role.labels };
    template.metadata.annotations = { ...template.metadata.annotations, ...role.annotations };
    annotations[EPHEMERAL_METADATA_ANNOTATION] = JSON.stringify(role);
  }
  const antiAffinity = (canary ?? blueGreen)?.antiAffinity;
  if (antiAffinity && !firstRevision) {
    const term = {
      labelSelector: { matchExpressions: [{ key: POD_TEMPLATE_HASH_LABEL, operator: 'In', values: [ctx.status.stableRS] }] },
      topologyKey: 'kubernetes.io/hostname',
    };
    const spec = (template.spec ??= {});
    const anti = { ...spec.affinity?.podAntiAffinity };
    if (antiAffinity.requiredDuringSchedulingIgnoredDuringExecution) {
      anti.requiredDuringSchedulingIgnoredDuringExecution = [...(anti.requiredDuringSchedulingIgnoredDuringExecution ?? []), term];
    } else {
      const weight = antiAffinity.preferredDuringSchedulingIgnoredDuringExecution?.weight ?? 1;
      anti.preferredDuringSchedulingIgnoredDuringExecution = [
        ...(anti.preferredDuringSchedulingIgnoredDuringExecution ?? []),
        { weight, podAffinityTerm: term },
      ];
    }
    spec.affinity = { ...spec.affinity, podAntiAffinity: anti };
  }
  const gitRevision = rollout.metadata.annotations?.[GIT_REVISION_ANNOTATION];
  if (gitRevision) annotations[GIT_REVISION_ANNOTATION] = gitRevision;
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${rollout.metadata.name}-${newHash}`,
      namespace: rollout.metadata.namespace,
      labels: rsLabels,
      annotations,
      ownerReferences: [
        {
          apiVersion: rollout.apiVersion,
          kind: 'Rollout',
          name: rollout.metadata.name as string,
          uid: rollout.metadata.uid as string,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      replicas: firstRevision ? ctx.replicas : 0,
      minReadySeconds: rollout.spec.minReadySeconds ?? 0,
      selector: {
        matchLabels: { ...rollout.spec.selector?.matchLabels, [POD_TEMPLATE_HASH_LABEL]: newHash },
        ...(rollout.spec.selector?.matchExpressions ? { matchExpressions: rollout.spec.selector.matchExpressions } : {}),
      },
      template,
    },
  } as ReplicaSet;
}

/** Going back to an older ReplicaSet makes it the newest revision again, as Deployments do. */
export function bumpRevisionIfReused(ctx: Context, rs: ReplicaSet): void {
  const max = Math.max(0, ...ctx.observed.replicaSets.map(revisionOf));
  if (revisionOf(rs) >= max && ctx.observed.replicaSets.filter((r) => revisionOf(r) === max).length === 1) return;
  ctx.actions.push({
    type: 'scaleReplicaSet',
    name: rs.metadata.name as string,
    replicas: specReplicas(rs),
    annotations: { [REVISION_ANNOTATION]: String(max + 1) },
  });
}

/** Deletes scaled-down ReplicaSets beyond revisionHistoryLimit, oldest first. */
export function cleanUpHistory(ctx: Context): void {
  const limit = ctx.rollout.spec.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY;
  const keep = new Set([ctx.newHash, ctx.status.stableRS]);
  const old = ctx.observed.replicaSets
    .filter((rs) => !keep.has(hashOf(rs)) && specReplicas(rs) === 0 && (rs.status?.replicas ?? 0) === 0)
    .sort((a, b) => revisionOf(b) - revisionOf(a));
  for (const rs of old.slice(limit)) ctx.actions.push({ type: 'deleteReplicaSet', name: rs.metadata.name as string });
}
