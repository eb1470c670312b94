// Git credentials of a GitSync: read from the Secret its spec names as the sync's
// ServiceAccount (so a GitSync cannot borrow a Secret its ServiceAccount may not read, and
// send it to a URL of its choosing), read as every Secret is (controller/runtime/secret-reader.ts), and
// the values to mask (core/shared/mask.ts) in anything the sync reports.
import type { GitSyncSpec } from '../../api/git-sync.ts';
import { syncFailure, type SyncFailure } from '../../core/gitops/failures.ts';
import type { GitAuth } from '../../ports/git.ts';
import type { KubeClient } from '../../ports/kube.ts';
import { KubeSecretReader } from '../runtime/secret-reader.ts';

/** Credentials, or why there are none (a permanent failure: the Secret must change). */
export type AuthResult = { auth: GitAuth } | { failure: SyncFailure };

/** Reads credentials from the Secret named by spec.secretRef (keys as Flux: username, password, bearerToken, identity, known_hosts). */
export async function readAuth(kube: KubeClient, namespace: string, spec: Pick<GitSyncSpec, 'secretRef'>): Promise<AuthResult> {
  if (!spec.secretRef) return { auth: { kind: 'none' } };
  const name = spec.secretRef.name;
  let values: Readonly<Record<string, string>> | undefined;
  try {
    values = await new KubeSecretReader(kube).read(namespace, name, 'git');
  } catch (err) {
    // API errors (a 403 for the ServiceAccount included) are the caller's to classify.
    if (err instanceof Error && /^Secret .*: not a Secret/.test(err.message)) {
      return { failure: syncFailure({ reason: 'InvalidSecret', message: `Secret ${namespace}/${name} is not a valid Secret` }) };
    }
    throw err;
  }
  if (!values) return { failure: syncFailure({ reason: 'SecretNotFound', message: `Secret ${namespace}/${name} (spec.secretRef) not found` }) };
  if (values.identity) return { auth: { kind: 'ssh', privateKey: values.identity, knownHosts: values.known_hosts ?? '' } };
  if (values.bearerToken) return { auth: { kind: 'bearer', token: values.bearerToken.trim() } };
  if (values.password) return { auth: { kind: 'basic', username: values.username || 'git', password: values.password } };
  return {
    failure: syncFailure({
      reason: 'InvalidSecret',
      message: `Secret ${namespace}/${name} has none of the keys password (with username), bearerToken, or identity (with known_hosts)`,
    }),
  };
}

/** The values of credentials that must never appear in a status, an Event or a log. */
export function secretValues(auth: GitAuth): string[] {
  switch (auth.kind) {
    case 'basic':
      return [auth.password];
    case 'bearer':
      return [auth.token];
    case 'ssh':
      return [auth.privateKey, ...auth.privateKey.split('\n').filter((l) => l.length >= 16)];
    default:
      return [];
  }
}
