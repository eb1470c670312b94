// kubectl sluice lint -f FILE|DIR: offline validation, no cluster needed.
import { Option, type Command } from 'commander';
import { EXIT } from '../io.ts';
import { readManifestFiles } from './files.ts';
import { parseOutput, type Runtime } from './runtime.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerLint(program: Command, rt: Runtime): void {
  program
    .command('lint')
    .summary('check Rollouts, AnalysisTemplates and GitSyncs offline')
    .description(
      'Validate manifests without a cluster, with the same schemas and checks the controller uses: YAML syntax, the Sluice kinds ' +
        '(Rollout, AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun, GitSync) against their schemas including unknown fields, the Rollout ' +
        'rules the CRD cannot express, CEL compilation of analysis conditions, and GitSync schedules. Other kinds are only checked for ' +
        'apiVersion, kind and metadata.name. Every problem is printed as FILE:LINE[:COLUMN]; the exit code is 1 when there is any.',
    )
    .option('-f, --filename <path>', 'a file or directory (read recursively for *.yaml, *.yml, *.json); repeatable; - for standard input', collect)
    .addOption(new Option('-o, --output <format>', 'json: the problems as a JSON array'))
    .addHelpText('after', '\nExamples:\n  kubectl sluice lint -f deploy/\n  kubectl sluice lint -f rollout.yaml -f analysis.yaml -o json')
    .action(async (opts: { filename?: string[]; output?: string }) => {
      const output = parseOutput(opts.output, ['json']);
      // Loaded here: the schemas, the YAML parser and CEL are only needed by lint and convert.
      const [{ lintFiles, renderLintProblem, renderLintSummary }, { isManifestPath }] = await Promise.all([
        import('../model/lint.ts'),
        import('../../core/gitops/manifests.ts'),
      ]);
      const result = lintFiles(await readManifestFiles(opts.filename ?? [], rt.io, isManifestPath));
      if (output === 'json') rt.out(`${JSON.stringify(result.problems, null, 2)}\n`);
      else {
        for (const p of result.problems) rt.out(`${renderLintProblem(p)}\n`);
        (result.problems.length > 0 ? rt.err.bind(rt) : rt.out.bind(rt))(renderLintSummary(result));
      }
      if (result.problems.length > 0) rt.exitCode = EXIT.failed;
    });
}
