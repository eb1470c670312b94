// kubectl sluice get rollout NAME [--watch]
import { Option, type Command } from 'commander';
import { ROLLOUT_LABEL } from '../../api/analysis.ts';
import { kinds, type KubeObject } from '../../ports/kube.ts';
import { usageError } from '../io.ts';
import { buildRolloutView, type RolloutObjects } from '../model/rollout.ts';
import { renderRolloutTree } from '../view/tree.ts';
import { readRollout, readRolloutObjects, type RolloutObject } from './objects.ts';
import { parseOutput, serialise, type Runtime } from './runtime.ts';
import { aborted, watchObjects, type Watched } from './watch.ts';

export const ROLLOUT_VIEW_SCHEMA = 'kubectl-sluice/rollout/v1';

export function registerGet(program: Command, rt: Runtime): void {
  const get = program
    .command('get')
    .summary('show a Rollout as a tree of revisions, pods and analysis')
    .description('Show one object in detail.')
    .addHelpText('after', '\nExamples:\n  kubectl sluice get rollout web\n  kubectl sluice get rollout web --watch');
  get
    .command('rollout')
    .alias('ro')
    .summary('a Rollout as a tree: revisions, pods, AnalysisRuns and their metrics')
    .description(
      'A Rollout as a tree: its revisions (ReplicaSets with revision number, hash, stable/canary/active/preview marks, image and Git commit), ' +
        "their pods and AnalysisRuns with each metric's last value and verdict; above it the status message, the step, desired and actual " +
        'weight, and what the rollout waits for and until when. --watch redraws on every change the API server reports (a watch, not polling).',
    )
    .argument('<name>', 'the Rollout')
    .option('-w, --watch', 'redraw on every change until Ctrl-C (live on a terminal, a new copy per change otherwise)')
    .addOption(new Option('-o, --output <format>', 'json or yaml: the view as data (schema kubectl-sluice/rollout/v1)'))
    .addHelpText(
      'after',
      '\nExamples:\n  kubectl sluice get rollout web\n  kubectl sluice get rollout web -n team-web --watch\n  kubectl sluice get rollout web -o json',
    )
    .action(async (name: string, opts: { watch?: boolean; output?: string }) => {
      rt.refuseAllNamespaces('get rollout');
      const output = parseOutput(opts.output, ['json', 'yaml']);
      if (opts.watch && output !== 'text') throw usageError('--watch draws the tree; it cannot be combined with -o');
      const { kube, namespace } = await rt.connect();
      const rollout = await readRollout(kube, namespace, name);
      if (!opts.watch) {
        const view = buildRolloutView(await readRolloutObjects(kube, rollout), rt.io.now());
        if (output === 'json' || output === 'yaml') rt.out(serialise({ schema: ROLLOUT_VIEW_SCHEMA, ...view }, output));
        else rt.out(renderRolloutTree(view, rt.io.now(), rt.style()));
        return;
      }
      await watchRollout(rt, rollout);
    });
}

async function watchRollout(rt: Runtime, first: RolloutObject): Promise<void> {
  const { kube } = await rt.connect();
  const namespace = first.metadata.namespace as string;
  const name = first.metadata.name as string;
  const labels = first.spec.selector?.matchLabels;
  const selector = labels
    ? Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
    : undefined;
  const tty = rt.io.stdout.isTTY === true;
  const style = rt.style();
  // Live redraw only on a terminal; elsewhere (a pipe, a CI log) each change is a new copy.
  const live = tty ? (await import('log-update')).createLogUpdate(rt.io.stdout as NodeJS.WriteStream, { showCursor: true }) : undefined;
  let last = '';
  let gone = false;
  let resolveGone: () => void = () => undefined;
  const deleted = new Promise<void>((resolve) => (resolveGone = resolve));

  let watched: Watched | undefined;
  const draw = () => {
    if (!watched) return;
    const [rollouts, replicaSets, pods, analysisRuns] = watched.informers.map((i) => i.list(namespace)) as [
      KubeObject[],
      KubeObject[],
      KubeObject[],
      KubeObject[],
    ];
    const rollout = rollouts.find((r) => r.metadata?.name === name);
    if (!rollout) {
      gone = true;
      resolveGone();
      return;
    }
    const objects: RolloutObjects = { rollout, replicaSets, pods, analysisRuns };
    const text = renderRolloutTree(buildRolloutView(objects, rt.io.now()), rt.io.now(), style);
    if (text === last) return;
    last = text;
    if (live) live(text);
    else rt.out(`${text}\n`);
  };
  watched = await watchObjects(
    kube,
    [
      { kind: kinds.rollout, namespace },
      { kind: kinds.replicaSet, namespace, labelSelector: selector },
      { kind: kinds.pod, namespace, labelSelector: selector },
      { kind: kinds.analysisRun, namespace, labelSelector: `${ROLLOUT_LABEL}=${name}` },
    ],
    draw,
  );
  // Ages and "in 30s" are worked out here, not read: on a terminal they are refreshed every second.
  const tick = live ? setInterval(draw, 1000) : undefined;
  try {
    draw();
    await Promise.race([aborted(rt.io.signal), deleted]);
  } finally {
    if (tick) clearInterval(tick);
    live?.done();
    await watched?.stop();
  }
  if (gone) rt.fail(`Rollout ${namespace}/${name} was deleted`);
}
