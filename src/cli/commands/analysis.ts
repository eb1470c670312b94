// kubectl sluice analysis NAME: why the last analysis of a Rollout (or one AnalysisRun) decided
// what it did, measurement by measurement.
import { Option, type Command } from 'commander';
import { ROLLOUT_LABEL } from '../../api/analysis.ts';
import type { Rollout } from '../../api/rollout.ts';
import { kinds, type KubeClient, type KubeObject } from '../../ports/kube.ts';
import { kubeFailure } from '../connect.ts';
import { CliError, EXIT, usageError } from '../io.ts';
import { analysisRunView } from '../model/rollout.ts';
import { renderAnalysis } from '../view/analysis.ts';
import { parseOutput, serialise, type Runtime } from './runtime.ts';

export const ANALYSIS_VIEW_SCHEMA = 'kubectl-sluice/analysis/v1';

export function registerAnalysis(program: Command, rt: Runtime): void {
  program
    .command('analysis')
    .summary('explain the last analysis of a Rollout, or one AnalysisRun')
    .description(
      'Why an analysis decided what it did: for each metric its conditions, limits and query as sent (values from Secrets masked), then every ' +
        'kept measurement with its time, value, condition and verdict, and the limit that tripped. NAME is a Rollout (its current or last ' +
        'AnalysisRun) or an AnalysisRun; write rollout/NAME or analysisrun/NAME when both exist.',
    )
    .argument('<name>', 'a Rollout or an AnalysisRun (rollout/NAME, analysisrun/NAME)')
    .addOption(new Option('-o, --output <format>', 'json or yaml: the explanation as data'))
    .addHelpText('after', '\nExamples:\n  kubectl sluice analysis web\n  kubectl sluice analysis analysisrun/web-6f8d9c-step-2 -o json')
    .action(async (target: string, opts: { output?: string }) => {
      rt.refuseAllNamespaces('analysis');
      const output = parseOutput(opts.output, ['json', 'yaml']);
      const { kube, namespace } = await rt.connect();
      const [type, name] = target.includes('/') ? (target.split('/', 2) as [string, string]) : [undefined, target];
      if (type !== undefined && !['rollout', 'rollouts', 'ro', 'analysisrun', 'analysisruns', 'ar'].includes(type)) {
        throw usageError(`analysis takes a Rollout or an AnalysisRun, not "${type}"`);
      }
      const run = await findRun(rt, kube, namespace, name, type?.startsWith('a') ? 'run' : type ? 'rollout' : undefined);
      const view = analysisRunView(run);
      if (output === 'json' || output === 'yaml') rt.out(serialise({ schema: ANALYSIS_VIEW_SCHEMA, ...view }, output));
      else rt.out(renderAnalysis(view, rt.style()));
    });
}

async function findRun(rt: Runtime, kube: KubeClient, namespace: string, name: string, only: 'run' | 'rollout' | undefined): Promise<KubeObject> {
  try {
    if (only !== 'run') {
      const rollout = (await kube.get(kinds.rollout, namespace, name)) as (Rollout & KubeObject) | undefined;
      if (rollout) {
        const runs = await kube.list(kinds.analysisRun, namespace, `${ROLLOUT_LABEL}=${name}`);
        const current = rollout.status?.analysis?.name;
        const run =
          runs.find((r) => r.metadata?.name === current) ??
          [...runs].sort((a, b) => (b.metadata?.creationTimestamp ?? '').localeCompare(a.metadata?.creationTimestamp ?? ''))[0];
        if (!run) throw new CliError(`Rollout ${name} has no AnalysisRun in namespace ${namespace} (it has run no analysis yet)`, EXIT.failed);
        if (current && run.metadata?.name !== current) rt.warn(`the Rollout's last analysis ${current} is gone; showing ${run.metadata?.name}`);
        return run;
      }
    }
    if (only !== 'rollout') {
      const run = await kube.get(kinds.analysisRun, namespace, name);
      if (run) return run;
    }
  } catch (err) {
    throw kubeFailure(err, `reading the analysis of ${name}`);
  }
  const what = only === 'run' ? 'AnalysisRun' : only === 'rollout' ? 'Rollout' : 'Rollout or AnalysisRun';
  throw new CliError(`${what} "${name}" not found in namespace ${namespace}`, EXIT.failed);
}
