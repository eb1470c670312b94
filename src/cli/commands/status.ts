// kubectl sluice status NAME: for CI. Prints every change of the Rollout's state (from a watch)
// until it is Healthy (exit 0), Degraded or aborted (1), or --timeout passes (2); 3 for a usage or
// connection error. --success-on-pause also accepts Paused; --no-watch looks once.
import { Option, type Command } from 'commander';
import { kinds, type KubeObject } from '../../ports/kube.ts';
import { CliError, EXIT, usageError } from '../io.ts';
import { changeKey, renderStatusEnd, renderStatusLine, statusEvent, statusOutcome, type StatusEvent, type StatusResult } from '../view/status.ts';
import { readRollout } from './objects.ts';
import { parseDurationFlag, parseOutput, type Runtime } from './runtime.ts';
import { aborted, watchObjects, type Watched } from './watch.ts';

interface StatusOptions {
  watch: boolean;
  timeout: string;
  successOnPause?: boolean;
  output?: string;
}

export function registerStatus(program: Command, rt: Runtime): void {
  program
    .command('status')
    .summary('wait for a Rollout to finish and exit with its outcome (for CI)')
    .description(
      "Print the Rollout's phase, step, weights and message at every change (from a watch, not polling) and exit when it is done. " +
        'With -o json each change is one JSON object on its own line (schema kubectl-sluice/status/v1, see docs/plugin.md); the last one ' +
        'has "done": true, "result" and "exitCode".',
    )
    .argument('<name>', 'the Rollout')
    .addOption(new Option('-w, --watch', 'wait for the outcome').default(true))
    .addOption(new Option('--no-watch', 'look once: exit 0 or 1 if the Rollout is done, 2 if it is not'))
    .option('-t, --timeout <duration>', 'give up after this long with exit 2, e.g. 10m (0: wait as long as it takes)', '0')
    .option('--success-on-pause', 'a Paused rollout (a pause step, blue-green preview, inconclusive analysis) counts as success')
    .addOption(new Option('-o, --output <format>', 'json: one JSON object per change'))
    .addHelpText(
      'after',
      `
Exit codes:
  0  Healthy (the new revision is stable), or Paused with --success-on-pause
  1  Degraded: aborted, invalid spec or progress deadline exceeded; or deleted
  2  --timeout passed first (with --no-watch: not done yet)
  3  usage error, or the cluster cannot be reached

Examples:
  kubectl sluice status web --timeout 10m                     # in CI, after kubectl apply
  kubectl sluice status web --timeout 5m --success-on-pause   # done once it waits at a pause step
  kubectl sluice status web -o json | jq -r .phase
  kubectl sluice status web --no-watch                        # exit code of the current state`,
    )
    .action(async (name: string, opts: StatusOptions) => {
      rt.refuseAllNamespaces('status');
      const output = parseOutput(opts.output, ['json']);
      const timeoutMs = parseDurationFlag(opts.timeout, '--timeout');
      const { kube, namespace } = await rt.connect();
      let first: KubeObject;
      try {
        first = await readRollout(kube, namespace, name);
      } catch (err) {
        // A name that does not exist is a usage error for CI: it will not become Healthy by waiting.
        if (err instanceof CliError && err.exitCode === EXIT.failed) throw usageError(err.message);
        throw err;
      }
      const successOnPause = opts.successOnPause === true;
      const style = rt.style();
      let lastKey = '';
      let lastEvent = statusEvent(first, rt.io.now());
      const print = (e: StatusEvent) => {
        lastEvent = e;
        const key = changeKey(e);
        if (key === lastKey) return;
        lastKey = key;
        rt.out(output === 'json' ? `${JSON.stringify(e)}\n` : renderStatusLine(e, style));
      };
      const finish = (result: StatusResult, exitCode: (typeof EXIT)[keyof typeof EXIT]) => {
        const e = { ...lastEvent, time: statusEvent(first, rt.io.now()).time, done: true, result, exitCode };
        rt.out(output === 'json' ? `${JSON.stringify(e)}\n` : renderStatusEnd(e, result, { timeoutMs }));
        rt.exitCode = exitCode;
      };

      print(lastEvent);
      const initial = statusOutcome(lastEvent, { successOnPause });
      if (initial) return finish(initial.result, initial.exitCode);
      if (!opts.watch) {
        if (output !== 'json') rt.err(`Rollout ${namespace}/${name} is not done yet (${lastEvent.phase})\n`);
        rt.exitCode = EXIT.timeout;
        return;
      }

      let settle: (outcome: { result: StatusResult; exitCode: (typeof EXIT)[keyof typeof EXIT] }) => void = () => undefined;
      const done = new Promise<{ result: StatusResult; exitCode: (typeof EXIT)[keyof typeof EXIT] }>((resolve) => (settle = resolve));
      let watched: Watched | undefined;
      const look = () => {
        if (!watched) return;
        const rollout = watched.informers[0]?.get(namespace, name);
        if (!rollout) return settle({ result: 'Deleted', exitCode: EXIT.failed });
        const e = statusEvent(rollout, rt.io.now());
        print(e);
        const outcome = statusOutcome(e, { successOnPause });
        if (outcome) settle(outcome);
      };
      watched = await watchObjects(kube, [{ kind: kinds.rollout, namespace }], look, 10);
      const timer = timeoutMs > 0 ? setTimeout(() => settle({ result: 'Timeout', exitCode: EXIT.timeout }), timeoutMs) : undefined;
      const interrupted = aborted(rt.io.signal).then(() => ({ result: 'Timeout' as const, exitCode: EXIT.timeout, interrupted: true }));
      try {
        look();
        const outcome = await Promise.race([done, interrupted]);
        if ('interrupted' in outcome) {
          rt.err(`Interrupted while waiting for Rollout ${namespace}/${name} (last phase ${lastEvent.phase})\n`);
          rt.exitCode = EXIT.timeout;
          return;
        }
        finish(outcome.result, outcome.exitCode);
      } finally {
        if (timer) clearTimeout(timer);
        await watched.stop();
      }
    });
}
