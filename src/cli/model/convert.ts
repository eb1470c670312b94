// `kubectl sluice convert`: Argo Rollouts manifests (argoproj.io/v1alpha1 Rollout,
// AnalysisTemplate, ClusterAnalysisTemplate) as Sluice manifests. Field names are the same
// where the meaning is, so converting is changing apiVersion, then keeping exactly what
// Sluice's zod schema accepts: whatever the schema drops is reported, so this follows the
// schema as it grows; fields the schema accepts but the controller does not implement (its
// notImplemented list) are reported too. Metrics with a provider other than Prometheus are dropped and reported;
// conditions are checked as CEL (Argo writes expr), with the few spellings that differ
// rewritten. Pure: parsed manifests in, objects and notes out.
import { z } from 'zod';
import { AnalysisTemplate, ClusterAnalysisTemplate } from '../../api/analysis.ts';
import { API_VERSION } from '../../api/meta.ts';
import { Rollout } from '../../api/rollout.ts';
import { compileCondition } from '../../core/analysis/cel.ts';
import { notImplemented } from '../../core/rollout/validate.ts';
import { leadingPath, positionOf, splitApiVersion, unknownFields, type Manifest, type SourcePosition } from '../../core/gitops/manifests.ts';
import { formatIssues, formatPath } from '../../core/shared/zod-issues.ts';

export const ARGO_GROUP = 'argoproj.io';

const SCHEMAS: Record<string, z.ZodType> = { Rollout, AnalysisTemplate, ClusterAnalysisTemplate };

export interface ConvertNote {
  source: SourcePosition;
  /** `Kind "name"` of the object. */
  object: string;
  message: string;
}

export interface ConvertedDocument {
  source: SourcePosition;
  object: Record<string, unknown>;
  /** False for objects passed through unchanged (Services, ConfigMaps, Sluice objects). */
  converted: boolean;
}

export interface ConvertResult {
  documents: ConvertedDocument[];
  /** What could not be carried over: each makes the command exit non-zero. */
  dropped: ConvertNote[];
  /** What was carried over differently (rewritten conditions, removed server fields). */
  notes: ConvertNote[];
}

type Obj = Record<string, any>;

/** Fields the API server sets; an exported object carries them, a manifest should not. */
const SERVER_METADATA = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'managedFields', 'selfLink'];
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export function convertManifests(manifests: readonly Manifest[]): ConvertResult {
  const result: ConvertResult = { documents: [], dropped: [], notes: [] };
  for (const manifest of manifests) {
    const [group] = splitApiVersion(manifest.object.apiVersion);
    if (group !== ARGO_GROUP) {
      result.documents.push({ source: manifest.source, object: manifest.object, converted: false });
      continue;
    }
    const what = `${manifest.object.kind} "${manifest.object.metadata.name}"`;
    const schema = SCHEMAS[manifest.object.kind];
    if (!schema) {
      result.dropped.push({
        source: manifest.source,
        object: what,
        message:
          `Argo Rollouts kind ${manifest.object.kind} has no Sluice counterpart ` +
          '(Sluice converts Rollout, AnalysisTemplate and ClusterAnalysisTemplate); left out',
      });
      continue;
    }
    // Each note points at the field it names (a message that starts with its path), else at the object.
    const at = (message: string) => {
      const path = leadingPath(message);
      return path ? positionOf(manifest, path, 'key') : manifest.source;
    };
    const dropped = (message: string) => result.dropped.push({ source: at(message), object: what, message });
    const note = (message: string) => result.notes.push({ source: at(message), object: what, message });
    const object = convertObject(manifest.object, schema, dropped, note);
    result.documents.push({ source: manifest.source, object, converted: true });
  }
  return result;
}

function convertObject(input: Obj, schema: z.ZodType, dropped: (m: string) => void, note: (m: string) => void): Obj {
  const obj = structuredClone(input);
  obj.apiVersion = API_VERSION;
  if ('status' in obj) {
    delete obj.status;
    note('status left out (the controller writes it)');
  }
  const metadata = (obj.metadata ?? {}) as Obj;
  const removed = SERVER_METADATA.filter((k) => k in metadata);
  for (const k of removed) delete metadata[k];
  if (metadata.annotations?.[LAST_APPLIED] !== undefined) {
    delete metadata.annotations[LAST_APPLIED];
    removed.push(`annotations.${LAST_APPLIED}`);
    if (Object.keys(metadata.annotations).length === 0) delete metadata.annotations;
  }
  if (removed.length > 0) note(`server-set metadata left out: ${removed.join(', ')}`);
  const argoAnnotations = Object.keys(metadata.annotations ?? {}).filter((k) => k.startsWith(`rollout.${ARGO_GROUP}/`));
  for (const k of argoAnnotations) delete metadata.annotations[k];
  if (metadata.annotations && Object.keys(metadata.annotations).length === 0) delete metadata.annotations;
  if (argoAnnotations.length > 0) note(`Argo Rollouts' own annotations left out: ${argoAnnotations.join(', ')}`);

  if (obj.kind !== 'Rollout') convertTemplateSpec(obj.spec, 'spec', dropped, note);

  // What the schema does not accept is dropped: unknown fields are removed and named; values the
  // schema refuses are kept (a person must fix them) and named.
  const probe = structuredClone(obj);
  let issues: string[] = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    const parsed = schema.safeParse(probe);
    if (parsed.success) {
      const unknown = unknownFields(probe, parsed.data).filter((p) => !p.startsWith('metadata'));
      for (const path of unknown) dropped(`${path}: not a field of Sluice's ${obj.kind}; left out`);
      const emptied = removePaths(obj, unknown);
      for (const path of emptied) dropped(`${path}: nothing Sluice accepts was left in it; left out`);
      if (obj.kind === 'Rollout') {
        shiftStartingStep(obj, emptied, note);
        // Fields the schema accepts (so Argo manifests apply) but the controller refuses with an InvalidSpec condition.
        for (const problem of notImplemented(parsed.data as Rollout)) {
          dropped(`${problem} (kept as it is: the controller refuses this Rollout with InvalidSpec until it is changed)`);
        }
      }
      break;
    }
    const fresh = parsed.error.issues.filter((i) => !issues.includes(issueKey(i)));
    if (fresh.length === 0) break;
    issues = [...issues, ...fresh.map(issueKey)];
    dropped(`cannot be converted as it is: ${formatIssues(fresh, 10)}`);
    removePaths(
      probe,
      fresh.map((i) => formatPath(i.path)),
    );
  }
  return obj;
}

/** Background analysis starts at a step index: steps left out before it move it down. */
function shiftStartingStep(obj: Obj, emptied: readonly string[], note: (m: string) => void): void {
  const analysis = obj.spec?.strategy?.canary?.analysis;
  if (!analysis || typeof analysis.startingStep !== 'number') return;
  const removed = emptied.flatMap((p) => {
    const m = /^spec\.strategy\.canary\.steps\[(\d+)\]$/.exec(p);
    return m ? [Number(m[1])] : [];
  });
  const before = removed.filter((i) => i < analysis.startingStep).length;
  if (before === 0) return;
  note(
    `spec.strategy.canary.analysis.startingStep ${analysis.startingStep} is now ${analysis.startingStep - before}, ` +
      `as ${before} earlier step${before === 1 ? ' was' : 's were'} left out`,
  );
  analysis.startingStep -= before;
}

const issueKey = (i: { path: ReadonlyArray<PropertyKey>; message: string }) => `${formatPath(i.path)}: ${i.message}`;

/** The metric providers Sluice measures with (the others' metrics are left out). */
const CONVERTED_PROVIDERS = ['prometheus', 'web'];

/** Metrics of a template spec: unsupported providers are dropped, conditions checked as CEL. */
function convertTemplateSpec(spec: Obj | undefined, at: string, dropped: (m: string) => void, note: (m: string) => void): void {
  if (!spec || !Array.isArray(spec.metrics)) return;
  spec.metrics = (spec.metrics as Obj[]).filter((metric, i) => {
    const providers = Object.keys(metric.provider ?? {}).filter((k) => metric.provider[k] !== undefined && metric.provider[k] !== null);
    if (providers.length !== 1 || !CONVERTED_PROVIDERS.includes(providers[0] as string)) {
      dropped(
        `${at}.metrics[${i}] (${metric.name ?? 'unnamed'}): provider ${providers.join(', ') || '(none)'} is not supported ` +
          `(Sluice measures with ${CONVERTED_PROVIDERS.join(' and ')}); metric left out`,
      );
      return false;
    }
    const web = metric.provider.web as Obj | undefined;
    if (web?.authentication !== undefined) {
      dropped(
        `${at}.metrics[${i}] (${metric.name}): provider.web.authentication (oauth2) is not supported: send the token in a header ` +
          'whose value comes from a Secret (kept as it is: the API server refuses this template until it is changed)',
      );
    }
    if (web && web.jsonPath === undefined) {
      note(
        `${at}.metrics[${i}] (${metric.name}): provider.web without jsonPath: result is the whole JSON reply; a reply that is not ` +
          'JSON is an error measurement in Sluice (Argo Rollouts hands a plain-text body to the conditions as a string)',
      );
    }
    for (const field of ['count', 'failureLimit', 'inconclusiveLimit', 'consecutiveErrorLimit'] as const) {
      // Argo takes these as int-or-string; Sluice as numbers.
      if (typeof metric[field] === 'string' && /^[0-9]+$/.test(metric[field])) {
        note(`${at}.metrics[${i}] (${metric.name}): ${field} "${metric[field]}" written as the number ${metric[field]}`);
        metric[field] = Number(metric[field]);
      }
    }
    for (const field of ['successCondition', 'failureCondition'] as const) {
      if (typeof metric[field] !== 'string') continue;
      const original = metric[field] as string;
      const cel = exprToCel(original);
      // Args are only known when a Rollout starts the analysis; a number stands in for them here.
      const check = compileCondition(cel.replace(/\{\{\s*args\.[A-Za-z0-9_.-]+\s*\}\}/g, '0'));
      if (!check.ok) {
        dropped(
          `${at}.metrics[${i}] (${metric.name}): ${field} "${original}" is not a CEL expression Sluice can evaluate (${check.error}); ` +
            'kept as it is: rewrite it in CEL, e.g. result[0] >= 0.95, size(result) == 0',
        );
        continue;
      }
      if (cel !== original) {
        metric[field] = cel;
        note(`${at}.metrics[${i}] (${metric.name}): ${field} "${original}" rewritten from expr to CEL as "${cel}"`);
      }
    }
    return true;
  });
}

/**
 * The spellings where Argo's expr and CEL differ for the same meaning: and, or, not, len(x),
 * nil, Argo's asInt(x)/asFloat(x) (CEL's int(x)/double(x)), and the list predicates
 * all/any/none/filter/map(list, {# …}), which CEL writes as macros on the list.
 */
export function exprToCel(expr: string): string {
  const macros: Record<string, (list: string, body: string) => string> = {
    all: (list, body) => `${list}.all(x, ${body})`,
    any: (list, body) => `${list}.exists(x, ${body})`,
    none: (list, body) => `!${list}.exists(x, ${body})`,
    filter: (list, body) => `${list}.filter(x, ${body})`,
    map: (list, body) => `${list}.map(x, ${body})`,
  };
  return expr
    .replace(/\b(all|any|none|filter|map)\(\s*([A-Za-z_][\w.[\]]*)\s*,\s*\{([^{}]*)\}\s*\)/g, (_m, fn: string, list: string, body: string) =>
      (macros[fn] as (l: string, b: string) => string)(list, body.trim().replace(/#/g, 'x')),
    )
    .replace(/\band\b/g, '&&')
    .replace(/\bor\b/g, '||')
    .replace(/\bnot\s+/g, '!')
    .replace(/\blen\(/g, 'size(')
    .replace(/\basInt\(/g, 'int(')
    .replace(/\basFloat\(/g, 'double(')
    .replace(/\bnil\b/g, 'null');
}

/**
 * Deletes paths such as `a.b[2].c` from an object. A list item left empty by that (a step that
 * held only an unsupported action) is removed from its list; the paths of those items are returned.
 */
function removePaths(root: Obj, paths: readonly string[]): string[] {
  const emptied: Array<{ list: unknown[]; item: unknown; path: string }> = [];
  for (const path of paths) {
    const parts = [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : (m[1] as string)));
    const last = parts.pop();
    let node: any = root;
    let parent: any;
    for (const part of parts) {
      parent = node;
      node = node?.[part];
      if (node === undefined || node === null) break;
    }
    if (last === undefined || node === undefined || node === null || typeof node !== 'object') continue;
    delete node[last];
    if (Array.isArray(parent) && !Array.isArray(node) && Object.keys(node).length === 0) {
      emptied.push({ list: parent, item: node, path: path.slice(0, path.lastIndexOf('.')) });
    }
  }
  for (const { list, item } of emptied) {
    const i = list.indexOf(item);
    if (i >= 0) list.splice(i, 1);
  }
  return emptied.map((e) => e.path);
}
