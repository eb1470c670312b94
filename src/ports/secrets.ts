// The one way Sluice reads Secrets (analysis args and provider auth, Git credentials, webhook
// secrets). Implemented by src/adapters/kube/secret-reader.ts over the kube port.
import type { Result } from '../core/shared/result.ts';
import type { SecretData } from '../core/shared/secrets.ts';

export interface SecretReader {
  /** The decoded values of a Secret, or undefined when it does not exist. Rejects on API errors. */
  read(namespace: string, name: string): Promise<Readonly<Record<string, string>> | undefined>;
  /** Several Secrets for one use; an API error or a malformed Secret is an error naming it. */
  readAll(namespace: string, names: Iterable<string>): Promise<Result<SecretData>>;
}
