// The phase and message of a Rollout, from a plan's working state.
import type { Phase } from '../../api/rollout.ts';
import { availableReplicas, specReplicas, type Context } from './context.ts';

export interface PhaseAndMessage {
  phase: Phase;
  message: string;
}

export function calculatePhase(ctx: Context): PhaseAndMessage {
  const { status, rollout } = ctx;
  if (status.abort) return { phase: 'Degraded', message: status.abortMessage ?? `Rollout aborted: traffic returned to the stable revision ${status.stableRS}` };
  if (ctx.deadlineExceeded) return { phase: 'Degraded', message: `Progress deadline exceeded: ${ctx.progress ?? 'waiting for pods'}` };
  const pauses = status.pauseConditions ?? [];
  if (rollout.spec.paused) return { phase: 'Paused', message: 'Paused: spec.paused is true' };
  if (pauses.length > 0) return { phase: 'Paused', message: `Paused (${pauses.map((p) => p.reason).join(', ')}): ${ctx.progress ?? ''}`.replace(/: $/, '') };
  const stable = status.stableRS ? ctx.rsByHash.get(status.stableRS) : undefined;
  // Old revisions waiting out scaleDownDelaySeconds do not hold back Healthy: as in Argo Rollouts the
  // rollout is done at the switch (blue-green) or at the last step (canary); the delay is a safety net.
  const delayed = new Set(Object.keys(status.scaleDownAt ?? {}));
  const others = [...ctx.rsByHash.entries()].filter(([hash, rs]) => rs !== stable && specReplicas(rs) > 0 && !delayed.has(hash));
  const done =
    status.stableRS === ctx.newHash &&
    stable !== undefined &&
    specReplicas(stable) === ctx.replicas &&
    availableReplicas(stable) >= ctx.replicas &&
    (stable.status?.replicas ?? 0) === ctx.replicas &&
    others.length === 0;
  // One Healthy message whatever the last decision was, so reaching Healthy is one status write, not two.
  if (done) return { phase: 'Healthy', message: `Healthy: ${ctx.replicas}/${ctx.replicas} pods of revision ${ctx.newHash} available` };
  return { phase: 'Progressing', message: ctx.progress ?? 'Progressing' };
}
