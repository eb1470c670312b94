// The user actions: promote [--full], abort, retry, pause, resume, undo [--to-revision N],
// restart, set image. Each reads the Rollout, plans exactly the documented write (or refuses with
// the reason), and writes it guarded by the resourceVersion it read; when the controller wrote
// meanwhile (409) it reads and plans again.
import type { Command } from 'commander';
import type { Rollout } from '../../api/rollout.ts';
import { KubeError, kinds, type KubeClient, type KubeObject } from '../../ports/kube.ts';
import { kubeFailure } from '../connect.ts';
import { CliError, EXIT, usageError } from '../io.ts';
import {
  parseImageChanges,
  planAbort,
  planPause,
  planPromote,
  planRestart,
  planResume,
  planRetry,
  planSetImage,
  planUndo,
  type ActionPlan,
} from '../model/actions.ts';
import { readRollout, type RolloutObject } from './objects.ts';
import type { Runtime } from './runtime.ts';

/** The field manager of every write the plugin makes (visible in managedFields). */
export const FIELD_MANAGER = 'kubectl-sluice';
const ATTEMPTS = 5;
/** How long an action waits for the controller to catch up with a spec change just made (e.g. set image, then promote). */
const OBSERVE_WAIT_MS = 10_000;

/**
 * The Rollout as the controller last saw it: right after a spec change, status still describes
 * the previous generation, and planning from it would act on the old revision. Waits a little for
 * the controller to write status for the current generation, and warns if it does not.
 */
async function readObserved(rt: Runtime, kube: KubeClient, namespace: string, name: string): Promise<RolloutObject> {
  const deadline = Date.now() + OBSERVE_WAIT_MS;
  for (;;) {
    const rollout = await readRollout(kube, namespace, name);
    const generation = rollout.metadata.generation;
    const observed = rollout.status?.observedGeneration;
    if (generation === undefined || observed === undefined || observed >= generation) return rollout;
    if (Date.now() >= deadline) {
      rt.warn(`the controller has not yet acted on generation ${generation} of Rollout ${name} (status is for ${observed}); is it running?`);
      return rollout;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

type Planner = (rollout: Rollout, kube: KubeClient) => Promise<ActionPlan> | ActionPlan;

async function act(rt: Runtime, name: string, planner: Planner): Promise<void> {
  rt.refuseAllNamespaces('an action');
  const { kube, namespace } = await rt.connect();
  for (let attempt = 1; ; attempt++) {
    const rollout = await readObserved(rt, kube, namespace, name);
    const plan = await planner(rollout, kube);
    if (!plan.ok) throw new CliError(plan.reason, EXIT.failed);
    const { write } = plan;
    try {
      await kube.patch(kinds.rollout, namespace, name, write.body, {
        type: 'merge',
        fieldManager: FIELD_MANAGER,
        ...(write.subresource ? { subresource: write.subresource } : {}),
      });
    } catch (err) {
      if (err instanceof KubeError && err.status === 409 && attempt < ATTEMPTS) continue;
      throw kubeFailure(err, `writing Rollout ${namespace}/${name}`);
    }
    for (const warning of write.warnings) rt.warn(warning);
    rt.out(`${write.done}\n`);
    return;
  }
}

async function listReplicaSets(kube: KubeClient, rollout: Rollout): Promise<KubeObject[]> {
  const labels = rollout.spec.selector?.matchLabels;
  const selector = labels
    ? Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
    : undefined;
  try {
    return await kube.list(kinds.replicaSet, rollout.metadata.namespace, selector);
  } catch (err) {
    throw kubeFailure(err, `listing the ReplicaSets of Rollout ${rollout.metadata.name}`);
  }
}

const example = (lines: string) => `\nExamples:\n${lines}`;

export function registerActions(program: Command, rt: Runtime): void {
  program
    .command('promote')
    .summary('go on: end the current pause, or skip the current step')
    .description(
      'End the pause the Rollout waits at (a pause step, a blue-green preview, inconclusive analysis): status.pauseConditions removed. ' +
        'A canary that is not paused skips its current step (status.currentStepIndex + 1). --full skips every remaining step (status.promoteFull: true).',
    )
    .argument('<name>', 'the Rollout')
    .option('--full', 'skip all remaining steps and pauses: the new revision becomes stable as soon as its pods are available')
    .addHelpText('after', example('  kubectl sluice promote web\n  kubectl sluice promote web --full'))
    .action((name: string, opts: { full?: boolean }) => act(rt, name, (r) => planPromote(r, { full: opts.full === true })));

  program
    .command('abort')
    .summary('send all traffic back to the stable revision and stay there')
    .description('Abort the rollout in progress: status.abort: true. All traffic goes back to the stable revision at once; retry starts again.')
    .argument('<name>', 'the Rollout')
    .addHelpText('after', example('  kubectl sluice abort web'))
    .action((name: string) => act(rt, name, planAbort));

  program
    .command('retry')
    .summary('start an aborted rollout again from its first step')
    .description('Start an aborted rollout again: status.abort: false, abortedAt and abortMessage removed, currentStepIndex 0, retries + 1.')
    .argument('<name>', 'the Rollout')
    .addHelpText('after', example('  kubectl sluice retry web'))
    .action((name: string) => act(rt, name, planRetry));

  program
    .command('pause')
    .summary('hold the Rollout where it is until resumed')
    .description('Pause the Rollout: a status.pauseConditions entry with reason UserPause. A Git sync never undoes it.')
    .argument('<name>', 'the Rollout')
    .addHelpText('after', example('  kubectl sluice pause web'))
    .action((name: string) => act(rt, name, (r) => planPause(r, rt.io.now())));

  program
    .command('resume')
    .summary('continue a Rollout paused with pause')
    .description('Remove the UserPause entry of status.pauseConditions (spec.paused: true, e.g. from Git, still pauses).')
    .argument('<name>', 'the Rollout')
    .addHelpText('after', example('  kubectl sluice resume web'))
    .action((name: string) => act(rt, name, planResume));

  program
    .command('undo')
    .summary("roll back to an earlier revision's pod template")
    .description(
      "Set spec.template to the template of an earlier revision's ReplicaSet (default: the previous revision). Going back to the stable " +
        "revision is a fast rollback (no steps). For a Rollout managed by a GitSync the next sync puts Git's template back: revert in Git instead.",
    )
    .argument('<name>', 'the Rollout')
    .option('--to-revision <n>', 'the revision number to go back to (see get rollout)')
    .addHelpText('after', example('  kubectl sluice undo web\n  kubectl sluice undo web --to-revision 3'))
    .action((name: string, opts: { toRevision?: string }) => {
      let revision: number | undefined;
      if (opts.toRevision !== undefined) {
        revision = Number(opts.toRevision);
        if (!Number.isInteger(revision) || revision < 1) throw usageError(`--to-revision: "${opts.toRevision}" is not a revision number (1, 2, …)`);
      }
      return act(rt, name, async (r, kube) => planUndo(r, await listReplicaSets(kube, r), revision));
    });

  program
    .command('restart')
    .summary('recreate every pod, a quarter at a time')
    .description('Set spec.restartAt to now: pods created before it are recreated, a quarter of the replicas at a time, once all are available.')
    .argument('<name>', 'the Rollout')
    .addHelpText('after', example('  kubectl sluice restart web'))
    .action((name: string) => act(rt, name, (r) => planRestart(r, rt.io.now())));

  const set = program.command('set').summary("change a Rollout's pod template").description("Change a Rollout's pod template.");
  set
    .command('image')
    .summary('change container images, which starts a rollout')
    .description(
      "Set the image of containers of the Rollout's pod template (spec.template), which starts a rollout of a new revision. " +
        'CONTAINER is a container (or init container) name, or * for all. ' +
        "For a Rollout managed by a GitSync the next sync puts Git's image back: change Git instead.",
    )
    .argument('<name>', 'the Rollout')
    .argument('<container=image...>', 'one or more CONTAINER=IMAGE')
    .addHelpText(
      'after',
      example('  kubectl sluice set image web app=example/web:v2\n  kubectl sluice set image web app=example/web:v2 sidecar=example/proxy:1.4'),
    )
    .action((name: string, pairs: string[]) => {
      const changes = parseImageChanges(pairs);
      if (typeof changes === 'string') throw usageError(changes);
      return act(rt, name, (r) => planSetImage(r, changes));
    });
}
