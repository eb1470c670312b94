// ReplicaSets that are neither stable nor desired: scaled to zero, after their delay if one was set.
import { availableReplicas, readyReplicas, revisionOf, scale, specReplicas, wakeAt, type Context } from './context.ts';

export interface OthersCounts {
  spec: number;
  available: number;
  ready: number;
}

/** Scales down every ReplicaSet whose hash is not kept; returns what remains of them this reconcile. */
export function scaleDownOthers(ctx: Context, keep: Set<string>): OthersCounts {
  const totals = { spec: 0, available: 0, ready: 0 };
  const delays = { ...ctx.status.scaleDownAt };
  const { canary, blueGreen } = ctx.rollout.spec.strategy;
  // scaleDownDelayRevisionLimit: only the newest this many old revisions wait out their delay.
  const limit = (canary ?? blueGreen)?.scaleDownDelayRevisionLimit ?? Number.POSITIVE_INFINITY;
  let waiting = 0;
  const byRevision = [...ctx.rsByHash].sort(([, a], [, b]) => revisionOf(b) - revisionOf(a));
  for (const [hash, rs] of byRevision) {
    if (keep.has(hash)) continue;
    const at = delays[hash] ? Date.parse(delays[hash]) : Number.NaN;
    if (specReplicas(rs) > 0 && Number.isFinite(at) && at > ctx.now.getTime() && waiting++ < limit) {
      wakeAt(ctx, at);
      totals.spec += specReplicas(rs);
      totals.available += availableReplicas(rs);
      totals.ready += readyReplicas(rs);
      continue;
    }
    delete delays[hash];
    scale(ctx, rs, 0);
    // Pods of a ReplicaSet being scaled down still serve until they terminate: count them honestly.
    totals.ready += readyReplicas(rs);
  }
  for (const hash of Object.keys(delays)) if (!ctx.rsByHash.has(hash) || keep.has(hash)) delete delays[hash];
  ctx.status.scaleDownAt = Object.keys(delays).length ? delays : undefined;
  return totals;
}
