// SecretReader over the kube port: one GET per Secret, decoded with Kubernetes semantics, and
// refused for a use the Secret has not opted in to (core/shared/secrets.ts).
import type { Result } from '../../core/shared/result.ts';
import { checkSecretUse, decodeSecret, type SecretData, type SecretUse } from '../../core/shared/secrets.ts';
import { kinds, type KubeClient } from '../../ports/kube.ts';
import type { SecretReader } from '../../ports/secrets.ts';

export class KubeSecretReader implements SecretReader {
  private readonly kube: Pick<KubeClient, 'get'>;

  constructor(kube: Pick<KubeClient, 'get'>) {
    this.kube = kube;
  }

  async read(namespace: string, name: string, use: SecretUse): Promise<Readonly<Record<string, string>> | undefined> {
    const obj = await this.kube.get(kinds.secret, namespace, name);
    if (obj === undefined) return undefined;
    const allowed = checkSecretUse({ ...obj, metadata: { ...obj.metadata, namespace, name } }, use);
    if (!allowed.ok) throw new Error(allowed.error);
    const decoded = decodeSecret(obj);
    if (!decoded.ok) throw new Error(`Secret ${namespace}/${name}: ${decoded.error}`);
    return decoded.value;
  }

  async readAll(namespace: string, names: Iterable<string>, use: SecretUse): Promise<Result<SecretData>> {
    const out = new Map<string, Readonly<Record<string, string>> | undefined>();
    for (const name of new Set(names)) {
      try {
        out.set(name, await this.read(namespace, name, use));
      } catch (err) {
        return { ok: false, error: `cannot read Secret ${namespace}/${name}: ${(err as Error).message}` };
      }
    }
    return { ok: true, value: out };
  }
}
