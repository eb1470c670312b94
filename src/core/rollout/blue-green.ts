// Blue-green by Service selectors: the preview Service sees the new revision from the start,
// the active Service is switched once the new ReplicaSet is fully available and promotion is allowed.
import type { BlueGreenStrategy } from '../../api/rollout.ts';
import type { ReplicaSet } from '../../api/workload.ts';
import { addPause, availableReplicas, event, hasPause, isUserPaused, removePause, scale, setSelector, specReplicas, wakeAt, type Context } from './context.ts';
import { postPromotionAnalysis, prePromotionAnalysis, terminateAnalysis } from './analysis-gates.ts';
import { scaleDownOthers } from './scale-down.ts';
import { syncEphemeralMetadata } from './ephemeral.ts';

const DEFAULT_SCALE_DOWN_DELAY_S = 30;
const DEFAULT_ABORT_SCALE_DOWN_DELAY_S = 30;

export function planBlueGreen(ctx: Context, bg: BlueGreenStrategy): void {
  const { status, replicas: n } = ctx;
  const stableHash = status.stableRS as string;
  const stable = ctx.rsByHash.get(stableHash);
  const active = status.activeSelector && ctx.rsByHash.has(status.activeSelector) ? status.activeSelector : stableHash;
  status.activeSelector = active;

  if (ctx.newHash === stableHash) {
    // Steady state (or a fast rollback): everything points at stable.
    return planSteady(ctx, bg, stable);
  }
  const next = ctx.newRS;
  const keep = new Set([stableHash, ctx.newHash, active]);
  scaleDownOthers(ctx, keep);
  syncEphemeralMetadata(ctx, ctx.rsByHash.get(active), bg.activeMetadata);
  if (next && active !== ctx.newHash && !status.abort) syncEphemeralMetadata(ctx, next, bg.previewMetadata);

  if (status.abort) return planAbort(ctx, bg, stable, next);

  if (active === ctx.newHash) {
    // Switched: post-promotion analysis decides whether the new revision becomes stable.
    setSelector(ctx, bg.activeService, ctx.newHash);
    setSelector(ctx, bg.previewService, ctx.newHash);
    scale(ctx, next, n);
    const gate = postPromotionAnalysis(ctx, bg);
    if (gate === 'Failed') return planAbort(ctx, bg, stable, next);
    if (gate !== 'Successful') return;
    return completePromotion(ctx, bg, stableHash);
  }

  setSelector(ctx, bg.activeService, active);
  setSelector(ctx, bg.previewService, ctx.newHash);
  status.previewSelector = ctx.newHash;
  scale(ctx, stable, n);
  const promoting = status.promoteFull === true || (status.controllerPause === true && !hasPause(status, 'BlueGreenPause'));
  const previewCount = promoting ? n : Math.min(n, bg.previewReplicaCount ?? n);
  scale(ctx, next, previewCount);
  status.desiredWeight = 0;
  status.actualWeight = 0;

  const previewReady = next !== undefined && specReplicas(next) === previewCount && availableReplicas(next) >= previewCount;
  if (!previewReady) {
    ctx.progress = `Preview: waiting for ${previewCount} pod(s) of revision ${ctx.newHash} available (${availableReplicas(next)} now)`;
    return;
  }
  status.previewReadyAt ??= ctx.nowIso;

  const pre = prePromotionAnalysis(ctx, bg);
  if (pre === 'Failed') return planAbort(ctx, bg, stable, next);
  if (pre !== 'Successful') return;

  if (isUserPaused(ctx)) {
    ctx.progress = `Paused by user before promotion; preview ${bg.previewService ?? '(none)'} serves revision ${ctx.newHash}`;
    return;
  }

  if (!promoting) {
    if (bg.autoPromotionEnabled === false) {
      addPause(ctx, 'BlueGreenPause');
      if (!status.controllerPause) event(ctx, 'RolloutPaused', `Preview ready; waiting for promotion (kubectl sluice promote ${ctx.rollout.metadata.name})`);
      status.controllerPause = true;
      ctx.progress = `Preview ready on ${bg.previewService ?? 'the new ReplicaSet'}; waiting for promotion`;
      return;
    }
    if (bg.autoPromotionSeconds !== undefined) {
      const at = Date.parse(status.previewReadyAt) + bg.autoPromotionSeconds * 1000;
      if (ctx.now.getTime() < at) {
        wakeAt(ctx, at);
        ctx.progress = `Preview ready; auto-promotion after ${bg.autoPromotionSeconds}s, at ${new Date(at).toISOString()}`;
        return;
      }
    }
  }
  // Promotion needs the full count first, then the switch.
  if (specReplicas(next) < n || availableReplicas(next) < n) {
    scale(ctx, next, n);
    status.controllerPause = true; // remembers that promotion started, so the preview count is not restored
    removePause(ctx, 'BlueGreenPause');
    ctx.progress = `Promoting: waiting for ${n} pod(s) of revision ${ctx.newHash} available (${availableReplicas(next)} now)`;
    return;
  }
  removePause(ctx, 'BlueGreenPause');
  status.controllerPause = undefined;
  status.activeSelector = ctx.newHash;
  setSelector(ctx, bg.activeService, ctx.newHash);
  status.desiredWeight = 100;
  status.actualWeight = 100;
  event(ctx, 'ActiveSwitched', `Active Service ${bg.activeService} switched to revision ${ctx.newHash}`);
  ctx.progress = `Active Service switched to revision ${ctx.newHash}`;
  if (!bg.postPromotionAnalysis) completePromotion(ctx, bg, stableHash);
  else wakeAt(ctx, ctx.now.getTime());
}

function completePromotion(ctx: Context, bg: BlueGreenStrategy, oldStable: string): void {
  const { status } = ctx;
  status.stableRS = ctx.newHash;
  status.promoteFull = undefined;
  const delay = bg.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_S;
  status.scaleDownAt = { ...status.scaleDownAt, [oldStable]: new Date(ctx.now.getTime() + delay * 1000).toISOString() };
  wakeAt(ctx, ctx.now.getTime() + delay * 1000);
  setSelector(ctx, bg.previewService, ctx.newHash);
  terminateAnalysis(ctx, (kind) => kind !== 'postPromotion');
  event(ctx, 'RolloutCompleted', `Revision ${ctx.newHash} promoted to stable; previous revision ${oldStable} scaled down in ${delay}s`);
  ctx.progress = `Promoted revision ${ctx.newHash}`;
}

/** Abort: the active Service goes (back) to stable at once; the new ReplicaSet is scaled to zero. */
function planAbort(ctx: Context, bg: BlueGreenStrategy, stable: ReplicaSet | undefined, next: ReplicaSet | undefined): void {
  const { status } = ctx;
  const stableHash = status.stableRS as string;
  status.abortedAt ??= ctx.nowIso;
  status.abortMessage ??= `Rollout aborted: active Service returned to the stable revision ${stableHash}`;
  if (ctx.previous.abort !== true || ctx.previous.phase !== 'Degraded') event(ctx, 'RolloutAborted', status.abortMessage, 'Warning');
  status.activeSelector = stableHash;
  setSelector(ctx, bg.activeService, stableHash);
  setSelector(ctx, bg.previewService, stableHash);
  removePause(ctx, 'BlueGreenPause');
  removePause(ctx, 'InconclusiveAnalysis');
  status.controllerPause = undefined;
  scale(ctx, stable, ctx.replicas);
  // As Argo Rollouts: the aborted revision's pods stay for abortScaleDownDelaySeconds (default 30;
  // 0 keeps them). No Service selects them any more, so they take no traffic meanwhile.
  const delay = bg.abortScaleDownDelaySeconds ?? DEFAULT_ABORT_SCALE_DOWN_DELAY_S;
  const at = Date.parse(status.abortedAt) + delay * 1000;
  if (delay > 0 && ctx.now.getTime() >= at) scale(ctx, next, 0);
  else if (delay > 0) wakeAt(ctx, at);
  syncEphemeralMetadata(ctx, stable, bg.activeMetadata);
  terminateAnalysis(ctx, () => true);
  status.desiredWeight = 0;
  status.actualWeight = 0;
  ctx.progress = status.abortMessage;
}

function planSteady(ctx: Context, bg: BlueGreenStrategy, stable: ReplicaSet | undefined): void {
  const { status } = ctx;
  const stableHash = status.stableRS as string;
  status.activeSelector = stableHash;
  status.previewSelector = stableHash;
  setSelector(ctx, bg.activeService, stableHash);
  setSelector(ctx, bg.previewService, stableHash);
  scale(ctx, stable, ctx.replicas);
  syncEphemeralMetadata(ctx, stable, bg.activeMetadata);
  scaleDownOthers(ctx, new Set([stableHash]));
  status.desiredWeight = 100;
  status.actualWeight = 100;
  if (availableReplicas(stable) < ctx.replicas)
    ctx.progress = `Waiting for ${ctx.replicas} pod(s) of revision ${stableHash} available (${availableReplicas(stable)} now)`;
}
