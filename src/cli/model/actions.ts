// The user actions as the exact writes of the README's field contract ("User actions and who
// owns which field"), or the reason an action makes no sense now. Pure: the objects as read
// and the time in, one merge patch out. Every patch carries the resourceVersion it was planned
// from, so the API server refuses it (409) when the Rollout changed meanwhile; the command then
// reads again and plans again.
import { GIT_REVISION_ANNOTATION, GIT_SYNC_ANNOTATION } from '../../api/git-sync.ts';
import { POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import { REVISION_ANNOTATION, type PauseCondition, type Rollout } from '../../api/rollout.ts';
import type { KubeObject } from '../../ports/kube.ts';
import { mergePatchBetween } from '../../core/shared/merge-patch.ts';

export interface PlannedWrite {
  /** Status actions go to the status subresource; undo, restart and set image write spec. */
  subresource?: 'status';
  /** A JSON merge patch (RFC 7386) with metadata.resourceVersion set. */
  body: Record<string, unknown>;
  /** What was done, in words, for the person. */
  done: string;
  /** Printed on stderr: the action stands, but something will undo it or stop it from mattering. */
  warnings: string[];
}

export type ActionPlan = { ok: true; write: PlannedWrite } | { ok: false; reason: string };

type Obj = Record<string, any>;

const refuse = (reason: string): ActionPlan => ({ ok: false, reason });

function guarded(rollout: Rollout, patch: Record<string, unknown>): Record<string, unknown> {
  return { metadata: { resourceVersion: rollout.metadata.resourceVersion }, ...patch };
}

const nameOf = (rollout: Rollout) => rollout.metadata.name ?? '';
const statusOf = (rollout: Rollout) => rollout.status ?? {};
const inProgress = (rollout: Rollout) => {
  const s = statusOf(rollout);
  return !!s.currentPodHash && !!s.stableRS && s.currentPodHash !== s.stableRS;
};
const stepText = (index: number, count: number) => `${Math.min(index + 1, count)}/${count}`;

function specPausedReason(rollout: Rollout, what: string): string {
  const managed = rollout.metadata.annotations?.[GIT_SYNC_ANNOTATION];
  const where = managed ? ` in Git (GitSync ${managed} manages this Rollout)` : '';
  return `Rollout ${nameOf(rollout)} is paused by spec.paused: true, which ${what} does not change; set spec.paused to false${where}`;
}

function nothingInProgress(rollout: Rollout, what: string): string {
  const s = statusOf(rollout);
  return `Rollout ${nameOf(rollout)} is ${s.phase ?? 'not yet reconciled'} on its stable revision ${s.stableRS ?? '(none yet)'}: there is nothing to ${what}`;
}

export function planPromote(rollout: Rollout, opts: { full?: boolean } = {}): ActionPlan {
  const s = statusOf(rollout);
  const name = nameOf(rollout);
  if (rollout.spec.paused) return refuse(specPausedReason(rollout, 'promote'));
  if (s.abort) return refuse(`Rollout ${name} was aborted; kubectl sluice retry ${name} starts the new revision again`);
  if (!inProgress(rollout)) return refuse(nothingInProgress(rollout, 'promote'));
  if (opts.full) {
    if (s.promoteFull) return refuse(`Rollout ${name} is already being promoted to the end (promote --full was set)`);
    return {
      ok: true,
      write: {
        subresource: 'status',
        body: guarded(rollout, { status: { promoteFull: true } }),
        done: `Rollout ${name}: promoting revision ${s.currentPodHash} to the end, remaining steps and pauses skipped`,
        warnings: [],
      },
    };
  }
  const pauses = s.pauseConditions ?? [];
  if (pauses.length > 0) {
    const reasons = pauses.map((p) => p.reason).join(', ');
    const onlyUser = pauses.every((p) => p.reason === 'UserPause');
    return {
      ok: true,
      write: {
        subresource: 'status',
        body: guarded(rollout, { status: { pauseConditions: null } }),
        done: onlyUser
          ? `Rollout ${name}: resumed (it was paused by a person; promote ends every pause, the current step is not skipped)`
          : `Rollout ${name}: promoted, the pause ended (${reasons})${stepSuffix(rollout)}`,
        warnings: [],
      },
    };
  }
  if (rollout.spec.strategy.blueGreen) {
    return refuse(
      `Rollout ${name} (blue-green) is not paused: it switches on its own once the preview is ready; ` +
        `kubectl sluice promote --full ${name} switches as soon as it is, skipping auto-promotion waits`,
    );
  }
  const count = rollout.spec.strategy.canary?.steps?.length ?? 0;
  const index = s.currentStepIndex ?? 0;
  if (index >= count) return refuse(`Rollout ${name} is past its last step: it waits for the new revision's pods to become available, then promotes it`);
  return {
    ok: true,
    write: {
      subresource: 'status',
      body: guarded(rollout, { status: { currentStepIndex: index + 1 } }),
      done: `Rollout ${name}: promoted, step ${stepText(index, count)} skipped`,
      warnings: [],
    },
  };
}

function stepSuffix(rollout: Rollout): string {
  if (!inProgress(rollout)) return '';
  const count = rollout.spec.strategy.canary?.steps?.length;
  const index = statusOf(rollout).currentStepIndex;
  return count && index !== undefined ? ` at step ${stepText(index, count)}` : '';
}

export function planAbort(rollout: Rollout): ActionPlan {
  const s = statusOf(rollout);
  const name = nameOf(rollout);
  if (s.abort) return refuse(`Rollout ${name} is already aborted${s.abortedAt ? ` (since ${s.abortedAt})` : ''}`);
  if (!inProgress(rollout)) return refuse(nothingInProgress(rollout, 'abort'));
  return {
    ok: true,
    write: {
      subresource: 'status',
      body: guarded(rollout, { status: { abort: true } }),
      done: `Rollout ${name}: aborted, all traffic goes back to the stable revision ${s.stableRS}`,
      warnings: [],
    },
  };
}

export function planRetry(rollout: Rollout): ActionPlan {
  const s = statusOf(rollout);
  const name = nameOf(rollout);
  if (!s.abort) return refuse(`Rollout ${name} is not aborted (phase ${s.phase ?? 'unknown'}): there is nothing to retry`);
  const retries = (s.retries ?? 0) + 1;
  return {
    ok: true,
    write: {
      subresource: 'status',
      body: guarded(rollout, { status: { abort: false, abortedAt: null, abortMessage: null, currentStepIndex: 0, retries } }),
      done: `Rollout ${name}: retrying revision ${s.currentPodHash} from the first step (attempt ${retries + 1})`,
      warnings: [],
    },
  };
}

export function planPause(rollout: Rollout, now: Date): ActionPlan {
  const s = statusOf(rollout);
  const name = nameOf(rollout);
  const existing = (s.pauseConditions ?? []).find((p) => p.reason === 'UserPause');
  if (existing) return refuse(`Rollout ${name} is already paused by a person (since ${existing.startTime})`);
  const pause: PauseCondition = { reason: 'UserPause', startTime: now.toISOString() };
  return {
    ok: true,
    write: {
      subresource: 'status',
      body: guarded(rollout, { status: { pauseConditions: [...(s.pauseConditions ?? []), pause] } }),
      done: `Rollout ${name}: paused${stepSuffix(rollout)}; kubectl sluice resume ${name} continues`,
      warnings: [],
    },
  };
}

export function planResume(rollout: Rollout): ActionPlan {
  const s = statusOf(rollout);
  const name = nameOf(rollout);
  const pauses = s.pauseConditions ?? [];
  if (!pauses.some((p) => p.reason === 'UserPause')) {
    if (rollout.spec.paused) return refuse(specPausedReason(rollout, 'resume'));
    if (pauses.length > 0) {
      return refuse(`Rollout ${name} is not paused by a person; it waits at ${pauses.map((p) => p.reason).join(', ')}: kubectl sluice promote ${name} goes on`);
    }
    return refuse(`Rollout ${name} is not paused`);
  }
  const rest = pauses.filter((p) => p.reason !== 'UserPause');
  const warnings = rollout.spec.paused ? [specPausedReason(rollout, 'resume')] : [];
  return {
    ok: true,
    write: {
      subresource: 'status',
      body: guarded(rollout, { status: { pauseConditions: rest.length > 0 ? rest : null } }),
      done: `Rollout ${name}: resumed${rest.length > 0 ? ` (still waiting at ${rest.map((p) => p.reason).join(', ')})` : ''}`,
      warnings,
    },
  };
}

export function planRestart(rollout: Rollout, now: Date): ActionPlan {
  const at = now.toISOString();
  return {
    ok: true,
    write: {
      body: guarded(rollout, { spec: { restartAt: at } }),
      done: `Rollout ${nameOf(rollout)}: restarting, pods created before ${at} are recreated a quarter at a time`,
      warnings: [],
    },
  };
}

/** A warning for a spec write that the next Git sync puts back, or none. */
function gitWarning(rollout: Rollout, what: string): string[] {
  const managed = rollout.metadata.annotations?.[GIT_SYNC_ANNOTATION];
  if (!managed) return [];
  const commit = rollout.metadata.annotations?.[GIT_REVISION_ANNOTATION];
  return [
    `Rollout ${nameOf(rollout)} is managed by GitSync ${managed}: its next sync puts the template from Git back and undoes this ${what}. ` +
      `To change it for good, change Git: git revert ${commit ? commit.slice(0, 12) : '<commit>'} (or commit the change) and push`,
  ];
}

interface RevisionInfo {
  rs: KubeObject;
  hash: string;
  revision: number;
}

function revisionsOf(rollout: Rollout, replicaSets: readonly KubeObject[]): RevisionInfo[] {
  const uid = rollout.metadata.uid;
  return replicaSets
    .filter((rs) => (rs.metadata?.ownerReferences ?? []).some((r) => r.uid === uid && r.controller))
    .map((rs) => ({
      rs,
      hash: rs.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL] ?? '',
      revision: Number(rs.metadata?.annotations?.[REVISION_ANNOTATION] ?? 0) || 0,
    }))
    .sort((a, b) => b.revision - a.revision);
}

/** A Rollout whose template comes from a Deployment (spec.workloadRef): template changes belong there. */
function workloadRefReason(rollout: Rollout, what: string): string | undefined {
  const ref = rollout.spec.workloadRef;
  if (!ref) return undefined;
  return `Rollout ${nameOf(rollout)} takes its pod template from ${ref.kind} ${ref.name} (spec.workloadRef): ${what} that ${ref.kind} instead`;
}

export function planUndo(rollout: Rollout, replicaSets: readonly KubeObject[], toRevision?: number): ActionPlan {
  const name = nameOf(rollout);
  const ref = workloadRefReason(rollout, 'roll back');
  if (ref) return refuse(ref);
  const s = statusOf(rollout);
  const revisions = revisionsOf(rollout, replicaSets);
  const current = revisions.find((r) => r.hash === s.currentPodHash);
  let target: RevisionInfo | undefined;
  if (toRevision !== undefined) {
    target = revisions.find((r) => r.revision === toRevision);
    if (!target) {
      const known = revisions.map((r) => r.revision).sort((a, b) => a - b);
      return refuse(`Rollout ${name} has no revision ${toRevision} (revisions: ${known.join(', ') || 'none'})`);
    }
    if (target === current) return refuse(`Revision ${toRevision} is the current revision of Rollout ${name}: nothing to undo`);
  } else {
    target = revisions.find((r) => r !== current && r.hash !== s.currentPodHash);
    if (!target) return refuse(`Rollout ${name} has no earlier revision to go back to`);
  }
  const template = structuredClone((target.rs as Obj).spec?.template ?? {}) as Obj;
  if (template.metadata?.labels) {
    delete template.metadata.labels[POD_TEMPLATE_HASH_LABEL];
    if (Object.keys(template.metadata.labels).length === 0) delete template.metadata.labels;
  }
  const images = ((template.spec?.containers ?? []) as Obj[]).map((c) => c.image).join(', ');
  const patch = mergePatchBetween(rollout.spec.template, template);
  if (patch === undefined) return refuse(`Rollout ${name} already has the template of revision ${target.revision}`);
  const fast = target.hash === s.stableRS ? ', the stable revision: a fast rollback, no steps' : '';
  return {
    ok: true,
    write: {
      body: guarded(rollout, { spec: { template: patch } }),
      done: `Rollout ${name}: template set to revision ${target.revision} (${target.hash}, ${images || 'no containers'})${fast}`,
      warnings: gitWarning(rollout, 'undo'),
    },
  };
}

export interface ImageChange {
  container: string;
  image: string;
}

/** Parses `CONTAINER=IMAGE` arguments (`*=IMAGE` for every container), as `kubectl set image` takes them. */
export function parseImageChanges(args: readonly string[]): ImageChange[] | string {
  const changes: ImageChange[] = [];
  for (const arg of args) {
    const i = arg.indexOf('=');
    if (i <= 0 || i === arg.length - 1) return `"${arg}" is not CONTAINER=IMAGE`;
    changes.push({ container: arg.slice(0, i), image: arg.slice(i + 1) });
  }
  if (changes.length === 0) return 'give at least one CONTAINER=IMAGE';
  return changes;
}

export function planSetImage(rollout: Rollout, changes: readonly ImageChange[]): ActionPlan {
  const name = nameOf(rollout);
  const ref = workloadRefReason(rollout, 'set the image of');
  if (ref) return refuse(ref);
  const template = structuredClone(rollout.spec.template ?? {}) as Obj;
  const lists = ['containers', 'initContainers'].filter((k) => Array.isArray(template.spec?.[k]));
  const all = lists.flatMap((k) => template.spec[k] as Obj[]);
  const done: string[] = [];
  for (const change of changes) {
    const targets = change.container === '*' ? all : all.filter((c) => c.name === change.container);
    if (targets.length === 0) {
      return refuse(`Rollout ${name} has no container "${change.container}" (containers: ${all.map((c) => c.name).join(', ') || 'none'})`);
    }
    for (const c of targets) {
      if (c.image !== change.image) done.push(`${c.name} ${c.image ?? '(none)'} -> ${change.image}`);
      c.image = change.image;
    }
  }
  if (done.length === 0) return refuse(`Rollout ${name} already runs ${changes.map((c) => `${c.container}=${c.image}`).join(', ')}: nothing to change`);
  const spec: Obj = {};
  for (const k of lists) spec[k] = template.spec[k];
  return {
    ok: true,
    write: {
      body: guarded(rollout, { spec: { template: { spec } } }),
      done: `Rollout ${name}: image ${done.join(', ')}`,
      warnings: gitWarning(rollout, 'image change'),
    },
  };
}
