// kubectl sluice list rollouts|gitsyncs|analysisruns
import { Option, type Command } from 'commander';
import { kinds, type KubeObject, type ResourceKind } from '../../ports/kube.ts';
import { kubeFailure } from '../connect.ts';
import { usageError } from '../io.ts';
import { emptyListMessage, renderAnalysisRunList, renderGitSyncList, renderRolloutList, type ListOptions } from '../view/lists.ts';
import { parseOutput, serialise, type Runtime } from './runtime.ts';

interface Listable {
  kind: ResourceKind;
  words: string[];
  render: (items: readonly KubeObject[], opts: ListOptions) => string;
}

export const LISTABLE: Listable[] = [
  { kind: kinds.rollout, words: ['rollouts', 'rollout', 'ro'], render: renderRolloutList },
  { kind: kinds.gitSync, words: ['gitsyncs', 'gitsync', 'gs'], render: renderGitSyncList },
  { kind: kinds.analysisRun, words: ['analysisruns', 'analysisrun', 'ar'], render: renderAnalysisRunList },
];

export function registerList(program: Command, rt: Runtime): void {
  program
    .command('list')
    .alias('ls')
    .summary('list Rollouts, GitSyncs or AnalysisRuns as a table')
    .description('List Rollouts, GitSyncs or AnalysisRuns as a table: phase, step, desired and actual weight, revision, Git commit, age.')
    .argument('<kind>', 'rollouts, gitsyncs or analysisruns (or rollout, ro, gitsync, gs, analysisrun, ar)')
    .addOption(new Option('-o, --output <format>', 'json, yaml or wide'))
    .option('-l, --selector <selector>', 'only objects with these labels, e.g. app=web')
    .addHelpText(
      'after',
      `
Examples:
  kubectl sluice list rollouts
  kubectl sluice list rollouts -A -o wide
  kubectl sluice list gitsyncs -n team-web
  kubectl sluice list analysisruns -l sluice.dev/rollout=web -o json`,
    )
    .action(async (word: string, opts: { output?: string; selector?: string }) => {
      const what = LISTABLE.find((l) => l.words.includes(word.toLowerCase()));
      if (!what) throw usageError(`cannot list "${word}": use rollouts, gitsyncs or analysisruns`);
      const output = parseOutput(opts.output, ['json', 'yaml', 'wide']);
      const { kube } = await rt.connect();
      const namespace = await rt.listNamespace();
      let items: KubeObject[];
      try {
        items = await kube.list(what.kind, namespace, opts.selector);
      } catch (err) {
        throw kubeFailure(err, `listing ${what.kind.plural}`);
      }
      if (output === 'json' || output === 'yaml') {
        rt.out(serialise({ apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } }, output));
        return;
      }
      if (items.length === 0) {
        rt.err(emptyListMessage(what.kind.plural, namespace));
        return;
      }
      rt.out(what.render(items, { allNamespaces: namespace === undefined, wide: output === 'wide', now: rt.io.now(), style: rt.style() }));
    });
}
