// The real cluster connection: the kubeconfig read as kubectl reads it (--kubeconfig, $KUBECONFIG,
// ~/.kube/config, in-cluster; --context), and the REST client of the kube adapter. Loaded lazily
// so that commands that need no cluster (lint, convert, completion, --help) start fast.
import { KubeError } from '../ports/kube.ts';
import { CliError, EXIT, type Connection, type KubeFlags } from './io.ts';

export async function connect(flags: KubeFlags, userAgent: string): Promise<Connection> {
  const { loadKubeConfig, RestKubeClient } = await import('../adapters/kube/client.ts');
  let config;
  try {
    config = loadKubeConfig(flags.kubeconfig, flags.context !== undefined ? { context: flags.context } : {});
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.usage);
  }
  let kube;
  try {
    kube = new RestKubeClient(config, { userAgent, timeoutMs: 30_000 });
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.usage);
  }
  return {
    kube,
    namespace: flags.namespace ?? config.namespace ?? 'default',
    server: config.server ?? '(unknown server)',
  };
}

/**
 * An API error as a CliError: unreachable, unauthorised and forbidden are connection problems
 * (exit 3); anything else fails the command (exit 1).
 */
export function kubeFailure(err: unknown, doing: string): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof KubeError) {
    if (err.status === 0) return new CliError(`cannot reach the API server while ${doing}: ${err.message}`, EXIT.usage);
    if (err.status === 401) return new CliError(`the API server does not accept our credentials (${doing}): ${err.message}`, EXIT.usage);
    if (err.status === 403) return new CliError(`not allowed ${doing}: ${err.message}`, EXIT.usage);
    return new CliError(`${doing}: ${err.message}`, EXIT.failed);
  }
  return new CliError(`${doing}: ${err instanceof Error ? err.message : String(err)}`, EXIT.failed);
}
