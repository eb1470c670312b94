// The one way Sluice reads Secrets (analysis args and provider auth, notification channels, Git
// credentials, webhook secrets). Implemented by src/controller/runtime/secret-reader.ts over the
// kube port (over an impersonating client where the read must be made as someone else).
import type { Result } from '../core/shared/result.ts';
import type { SecretData, SecretUse } from '../core/shared/secrets.ts';

export interface SecretReader {
  /**
   * The decoded values of a Secret, or undefined when it does not exist. Rejects on API errors
   * and when the Secret does not allow this use (see checkSecretUse).
   */
  read(namespace: string, name: string, use: SecretUse): Promise<Readonly<Record<string, string>> | undefined>;
  /** Several Secrets for one use; an API error, a malformed Secret or a use not allowed is an error naming it. */
  readAll(namespace: string, names: Iterable<string>, use: SecretUse): Promise<Result<SecretData>>;
}
