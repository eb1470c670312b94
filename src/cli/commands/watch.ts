// Watch-fed caches for --watch: the kube port's informers (list, then watch), one per kind, and
// a change callback coalesced over a short window so that a burst of events redraws once.
import type { Informer, KubeClient, KubeObject, ResourceKind } from '../../ports/kube.ts';
import { kubeFailure } from '../connect.ts';

export interface WatchSpec {
  kind: ResourceKind;
  namespace: string;
  labelSelector?: string | undefined;
}

export interface Watched {
  informers: Array<Informer<KubeObject>>;
  stop(): Promise<void>;
}

export async function watchObjects(kube: KubeClient, specs: readonly WatchSpec[], onChange: () => void, coalesceMs = 50): Promise<Watched> {
  const informers = specs.map((s) => kube.informer(s.kind, { namespace: s.namespace, ...(s.labelSelector ? { labelSelector: s.labelSelector } : {}) }));
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, coalesceMs);
  };
  for (const informer of informers) informer.onChange(changed);
  try {
    await Promise.all(informers.map((i) => i.start()));
  } catch (err) {
    await Promise.all(informers.map((i) => i.stop()));
    throw kubeFailure(err, `watching ${specs.map((s) => s.kind.plural).join(', ')}`);
  }
  return {
    informers,
    async stop() {
      if (timer) clearTimeout(timer);
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}

/** Resolves when the signal aborts (Ctrl-C), or never without one. */
export function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
