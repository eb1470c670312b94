// What the API server makes of a Rollout's pod template, asked at most once per template:
//
// - ReplicaSet templates hold the API server's defaults (imagePullPolicy, dnsPolicy, ports'
//   protocol, …) and the Rollout's template does not, so a template copied back from a
//   ReplicaSet (undo) hashes differently from the one it came from. A template that holds such
//   defaults is shown to the API server first (a dry-run create, remembered): a ReplicaSet
//   holding exactly the defaulted template is the one to reuse. A template a person wrote is
//   created without that round trip.
// - A refusal, by the dry run or by the real create (what the controller adds to the template,
//   canary or stable metadata and anti-affinity, or an admission rule, can fail there), is the
//   Rollout's problem to report (InvalidSpec, quoting the API server), asked again only after
//   INVALID_SPEC_REQUEUE_MS, never a reconcile error retried forever.
import { POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import type { Rollout } from '../../api/rollout.ts';
import { podTemplateHash, stableStringify } from '../../core/shared/hash.ts';
import { INVALID_SPEC_REQUEUE_MS } from '../../core/shared/requeue.ts';
import { KubeError, kinds, type KubeClient, type KubeObject } from '../../ports/kube.ts';

export interface TemplateCheck {
  equivalentHash?: string;
  error?: string;
  /** When a refusal was seen: it is asked again after INVALID_SPEC_REQUEUE_MS (an admission policy may have changed). */
  refusedAt?: number;
}

/** The real create of a new revision's ReplicaSet was refused as invalid: the next reconcile reports it. */
export class RefusedReplicaSet extends Error {}

const MAX_REMEMBERED = 10_000;

const templateKey = (rollout: Rollout) => `${rollout.metadata.uid}/${podTemplateHash(rollout.spec.template)}`;

/** The API server's words, without the request line the client puts first. */
const apiReason = (err: KubeError) => err.message.replace(/^[A-Z]+ \S+: 4\d\d /, '');

/** 422: invalid; 400: cannot even be decoded (e.g. `memory: invalid`). */
const isRefusal = (err: unknown): err is KubeError => err instanceof KubeError && (err.status === 422 || err.status === 400);

/**
 * Whether a pod template holds values only the API server fills in (a template copied from a
 * ReplicaSet, as undo does): a person's template rarely sets these.
 */
function holdsServerDefaults(template: unknown): boolean {
  const spec = (template as { spec?: Record<string, unknown> } | undefined)?.spec ?? {};
  if (spec.schedulerName !== undefined || spec.dnsPolicy !== undefined) return true;
  const containers = [...((spec.containers as unknown[]) ?? []), ...((spec.initContainers as unknown[]) ?? [])] as Array<Record<string, unknown>>;
  return containers.some((c) => c?.terminationMessagePath !== undefined || c?.terminationMessagePolicy !== undefined);
}

const withoutHash = (template: unknown) => {
  const t = structuredClone(template) as { metadata?: { labels?: Record<string, string>; creationTimestamp?: unknown } };
  delete t.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL];
  if (t.metadata) delete t.metadata.creationTimestamp;
  return stableStringify(t);
};

export class TemplateChecks {
  private readonly kube: Pick<KubeClient, 'create'>;
  private readonly now: () => number;
  /** `<rollout uid>/<template hash>` -> what the API server made of that template. */
  private readonly known = new Map<string, TemplateCheck>();

  constructor(kube: Pick<KubeClient, 'create'>, now: () => number) {
    this.kube = kube;
    this.now = now;
  }

  /** For a template no ReplicaSet has yet: a ReplicaSet to reuse, or why the API server refuses it. */
  async check(rollout: Rollout, replicaSets: KubeObject[]): Promise<TemplateCheck> {
    const hash = podTemplateHash(rollout.spec.template);
    const hashOf = (rs: KubeObject) => rs.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL];
    if (replicaSets.some((rs) => hashOf(rs) === hash)) return {};
    const key = templateKey(rollout);
    const known = this.known.get(key);
    if (known && !(known.refusedAt !== undefined && this.now() - known.refusedAt >= INVALID_SPEC_REQUEUE_MS)) return known;
    if (known) this.known.delete(key); // a refusal seen long enough ago: ask again
    if (!holdsServerDefaults(rollout.spec.template)) return {};
    const probe = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { generateName: `${rollout.metadata.name}-`, namespace: rollout.metadata.namespace },
      spec: { replicas: 0, selector: rollout.spec.selector, template: structuredClone(rollout.spec.template) },
    } as KubeObject;
    let result: TemplateCheck;
    try {
      const defaulted = await this.kube.create(kinds.replicaSet, probe, { dryRun: true });
      const wanted = withoutHash((defaulted as { spec?: { template?: unknown } }).spec?.template);
      const match = replicaSets.find((rs) => withoutHash((rs as { spec?: { template?: unknown } }).spec?.template) === wanted);
      const equivalentHash = match ? hashOf(match) : undefined;
      result = equivalentHash ? { equivalentHash } : {};
    } catch (err) {
      if (!isRefusal(err)) throw err;
      result = { error: `the API server rejects spec.template: ${apiReason(err)}`, refusedAt: this.now() };
    }
    this.remember(key, result);
    return result;
  }

  /** The real create of the template's ReplicaSet failed with `err`: the refusal to throw (remembered), if it is one. */
  refusedAtCreate(rollout: Rollout, err: unknown): RefusedReplicaSet | undefined {
    if (!isRefusal(err)) return undefined;
    const error = `the API server rejects spec.template: ${apiReason(err)}`;
    this.remember(templateKey(rollout), { error, refusedAt: this.now() });
    return new RefusedReplicaSet(error);
  }

  private remember(key: string, check: TemplateCheck): void {
    if (this.known.size > MAX_REMEMBERED) this.known.clear();
    this.known.set(key, check);
  }
}
