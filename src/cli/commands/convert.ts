// kubectl sluice convert -f FILE|DIR: Argo Rollouts manifests as Sluice manifests on stdout, what
// could not be carried over on stderr (and exit 1).
import type { Command } from 'commander';
import { dump } from 'js-yaml';
import { EXIT } from '../io.ts';
import type { ConvertNote } from '../model/convert.ts';
import { readManifestFiles } from './files.ts';
import type { Runtime } from './runtime.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];
const at = (n: ConvertNote) => `${n.source.file}:${n.source.line}:${n.source.column}: document ${n.source.document}: ${n.object}`;

export function registerConvert(program: Command, rt: Runtime): void {
  program
    .command('convert')
    .summary('turn Argo Rollouts manifests into Sluice manifests')
    .description(
      'Convert argoproj.io/v1alpha1 Rollout, AnalysisTemplate and ClusterAnalysisTemplate manifests to sluice.dev/v1alpha1 and print ' +
        "every document on stdout (other objects unchanged). Fields Sluice's schema does not accept and metrics whose provider is not " +
        'Prometheus are left out and listed on stderr, as are conditions that are not valid CEL; the exit code is 1 when anything was left out.',
    )
    .option('-f, --filename <path>', 'a file or directory (read recursively); repeatable; - for standard input', collect)
    .addHelpText(
      'after',
      '\nExamples:\n  kubectl sluice convert -f argo/rollout.yaml > rollout.yaml\n  kubectl sluice convert -f argo/ | kubectl sluice lint -f -',
    )
    .action(async (opts: { filename?: string[] }) => {
      // Loaded here: the schemas, the YAML parser and CEL are only needed by lint and convert.
      const [{ parseManifests, isManifestPath }, { convertManifests }, { toLintProblem, renderLintProblem }] = await Promise.all([
        import('../../core/gitops/manifests.ts'),
        import('../model/convert.ts'),
        import('../model/lint.ts'),
      ]);
      const files = await readManifestFiles(opts.filename ?? [], rt.io, isManifestPath);
      const { manifests, problems } = parseManifests(files);
      for (const p of problems) rt.err(`${renderLintProblem(toLintProblem(p))}\n`);
      const result = convertManifests(manifests);
      rt.out(result.documents.map((d) => dump(d.object, { lineWidth: -1, noRefs: true })).join('---\n'));
      const style = rt.errStyle();
      for (const n of result.notes) rt.err(`${style.dim('note:')} ${at(n)}: ${n.message}\n`);
      for (const n of result.dropped) rt.err(`${style.yellow('not converted:')} ${at(n)}: ${n.message}\n`);
      const converted = result.documents.filter((d) => d.converted).length;
      const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
      const summary = [
        `${count(converted, 'object')} converted`,
        ...(result.dropped.length ? [`${count(result.dropped.length, 'thing')} not converted`] : []),
        ...(problems.length ? [`${count(problems.length, 'unreadable document')}`] : []),
      ];
      rt.err(`${summary.join(', ')}\n`);
      if (result.dropped.length > 0 || problems.length > 0) rt.exitCode = EXIT.failed;
    });
}
