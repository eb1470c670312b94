// kubectl sluice sync GITSYNC [--wait]: sync now, by setting the annotation documented in
// docs/gitops.md ("Sync now"); with --wait, until the controller has handled that request.
import type { Command } from 'commander';
import { GitSync, SYNC_REQUESTED_ANNOTATION, type SyncError } from '../../api/git-sync.ts';
import { kinds, type KubeObject } from '../../ports/kube.ts';
import { kubeFailure } from '../connect.ts';
import { CliError, EXIT, type ExitCode } from '../io.ts';
import { humanDuration } from '../view/format.ts';
import { FIELD_MANAGER } from './actions.ts';
import { parseDurationFlag, type Runtime } from './runtime.ts';
import { aborted, watchObjects, type Watched } from './watch.ts';

type Outcome = { exitCode: ExitCode; text: string; error?: boolean };

/** The reason, file:line:column (as far as known) and document of a sync error, then its message. */
export function describeSyncError(e: SyncError & { column?: number }): string {
  const at = e.file ? [e.file, e.line, e.line !== undefined ? e.column : undefined].filter((x) => x !== undefined).join(':') : undefined;
  const where = at ? ` in ${at}${e.document !== undefined ? ` (document ${e.document})` : ''}` : '';
  return `${e.reason}${where}${e.commit ? ` at commit ${e.commit.slice(0, 12)}` : ''}\n  ${e.message}`;
}

/** What the status says about the request `requested`, once the controller has handled it. */
export function syncOutcome(obj: KubeObject, requested: string): Outcome | undefined {
  const status = (obj as unknown as GitSync).status;
  if (status?.lastHandledSyncRequest !== requested) return undefined;
  if (status.lastError) return { exitCode: EXIT.failed, text: `Sync failed: ${describeSyncError(status.lastError)}`, error: true };
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  return { exitCode: EXIT.ok, text: `Synced commit ${status.lastSyncedCommit ?? '(unknown)'}${ready?.message ? `: ${ready.message}` : ''}` };
}

export function registerSync(program: Command, rt: Runtime): void {
  program
    .command('sync')
    .summary('sync a GitSync now, optionally waiting for the result')
    .description(
      `Ask for a sync now: the annotation ${SYNC_REQUESTED_ANNOTATION} is set to the current time (docs/gitops.md, "sync now"). Sync windows still ` +
        'apply. With --wait, wait until the controller has handled this request and exit 0 when the commit was applied, 1 when it was not ' +
        '(the file, document and line of the error are printed), 2 on --timeout.',
    )
    .argument('<name>', 'the GitSync')
    .option('--wait', 'wait for the sync to finish and exit non-zero when it failed')
    .option('-t, --timeout <duration>', 'with --wait: give up after this long (exit 2)', '5m')
    .addHelpText('after', '\nExamples:\n  kubectl sluice sync web\n  kubectl sluice sync web -n team-web --wait --timeout 2m')
    .action(async (name: string, opts: { wait?: boolean; timeout: string }) => {
      rt.refuseAllNamespaces('sync');
      const timeoutMs = parseDurationFlag(opts.timeout, '--timeout');
      const { kube, namespace } = await rt.connect();
      let current: KubeObject | undefined;
      try {
        current = await kube.get(kinds.gitSync, namespace, name);
      } catch (err) {
        throw kubeFailure(err, `reading GitSync ${namespace}/${name}`);
      }
      if (!current) throw new CliError(`GitSync "${name}" not found in namespace ${namespace}`, EXIT.failed);
      if ((current as unknown as GitSync).spec?.suspend) {
        throw new CliError(`GitSync ${name} is suspended (spec.suspend: true): nothing syncs until it is resumed`, EXIT.failed);
      }
      let requested = rt.io.now().toISOString();
      if (current.metadata?.annotations?.[SYNC_REQUESTED_ANNOTATION] === requested) requested = new Date(Date.parse(requested) + 1).toISOString();
      try {
        await kube.patch(
          kinds.gitSync,
          namespace,
          name,
          { metadata: { annotations: { [SYNC_REQUESTED_ANNOTATION]: requested } } },
          { type: 'merge', fieldManager: FIELD_MANAGER },
        );
      } catch (err) {
        throw kubeFailure(err, `annotating GitSync ${namespace}/${name}`);
      }
      rt.out(`GitSync ${name}: sync requested (${SYNC_REQUESTED_ANNOTATION}=${requested})\n`);
      if (!opts.wait) return;

      let settle: (o: Outcome) => void = () => undefined;
      const done = new Promise<Outcome>((resolve) => (settle = resolve));
      let watched: Watched | undefined;
      let denied = '';
      const look = () => {
        if (!watched) return;
        const obj = watched.informers[0]?.get(namespace, name);
        if (!obj) return settle({ exitCode: EXIT.failed, text: `GitSync ${namespace}/${name} was deleted`, error: true });
        const outcome = syncOutcome(obj, requested);
        if (outcome) return settle(outcome);
        const window = (obj as unknown as GitSync).status?.conditions?.find((c) => c.type === 'SyncAllowed' && c.status === 'False');
        if (window?.message && window.message !== denied) {
          denied = window.message;
          rt.err(`Waiting: ${window.message}\n`);
        }
      };
      watched = await watchObjects(kube, [{ kind: kinds.gitSync, namespace }], look, 10);
      const timer =
        timeoutMs > 0
          ? setTimeout(
              () =>
                settle({
                  exitCode: EXIT.timeout,
                  text: `Timed out after ${humanDuration(timeoutMs)} waiting for GitSync ${name} to handle the sync request`,
                  error: true,
                }),
              timeoutMs,
            )
          : undefined;
      const interrupted = aborted(rt.io.signal).then((): Outcome => ({ exitCode: EXIT.timeout, text: 'Interrupted', error: true }));
      try {
        look();
        const outcome = await Promise.race([done, interrupted]);
        if (outcome.error) rt.err(`${outcome.text}\n`);
        else rt.out(`${outcome.text}\n`);
        rt.exitCode = outcome.exitCode;
      } finally {
        if (timer) clearTimeout(timer);
        await watched.stop();
      }
    });
}
