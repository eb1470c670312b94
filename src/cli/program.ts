// The plugin's command line: commander for parsing, help and errors; every command registered
// here. main() runs one command line and returns its exit code (see EXIT in io.ts).
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.ts';
import { registerActions } from './commands/actions.ts';
import { registerAnalysis } from './commands/analysis.ts';
import { complete, registerCompletion } from './commands/completion.ts';
import { registerConvert } from './commands/convert.ts';
import { registerGet } from './commands/get.ts';
import { registerLint } from './commands/lint.ts';
import { registerList } from './commands/list.ts';
import { Runtime } from './commands/runtime.ts';
import { registerStatus } from './commands/status.ts';
import { registerSync } from './commands/sync.ts';
import { registerVersion } from './commands/version.ts';
import { CliError, EXIT, type CliIo } from './io.ts';

export function buildProgram(io: CliIo): { program: Command; runtime: Runtime } {
  const program = new Command('kubectl sluice');
  const runtime = new Runtime(io, program);
  program
    .description(
      'Follow and steer Sluice rollouts: status for CI, the tree of a rollout, promote/abort/retry/pause/resume/undo/restart, ' +
        'analysis verdicts, Git sync, lint and convert.',
    )
    .usage('[global options] <command> [args]')
    .option('--kubeconfig <path>', 'the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--context <name>', 'the kubeconfig context to use')
    .option('-n, --namespace <namespace>', "the namespace (default: the context's, else default)")
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('--no-color', 'no colour (also when NO_COLOR is set or the output is not a terminal)')
    .version(VERSION, '--version', "print the plugin's version (kubectl sluice version also shows the controller's)")
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride()
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Exit codes: 0 success; 1 Degraded/aborted rollout, refused action, failed sync, lint or convert problems;
2 timeout; 3 usage error or cluster not reachable.

Examples:
  kubectl sluice list rollouts -A
  kubectl sluice get rollout web --watch
  kubectl sluice status web --timeout 10m
  kubectl sluice promote web
  kubectl sluice analysis web
  kubectl sluice lint -f deploy/`,
    );
  registerList(program, runtime);
  registerGet(program, runtime);
  registerStatus(program, runtime);
  registerActions(program, runtime);
  registerAnalysis(program, runtime);
  registerSync(program, runtime);
  registerLint(program, runtime);
  registerConvert(program, runtime);
  registerVersion(program, runtime);
  registerCompletion(program, runtime);
  // Every subcommand writes where the program does and reports errors through exitOverride.
  const inherit = (cmd: Command) => {
    for (const sub of cmd.commands) {
      sub.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
      inherit(sub);
    }
  };
  inherit(program);
  return { program, runtime };
}

/** Runs one command line (without the program name) and returns its exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const { program, runtime } = buildProgram(io);
  if (argv[0] === '__complete') {
    io.stdout.write(await complete(program, argv.slice(1), io));
    return EXIT.ok;
  }
  if (argv.length === 0) {
    io.stdout.write(program.helpInformation());
    return EXIT.ok;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return runtime.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end here with exit code 0; parse errors were already printed.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof CliError) {
      io.stderr.write(`${runtime.errStyle().red('error:')} ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.failed;
  }
}
