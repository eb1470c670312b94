// Manifests read from a commit, pure: YAML (or JSON) files -> objects that keep where each
// field is in its file -> problems a person can act on, each at the exact line and column:
//   apps/web/broken.yaml:12:22: Rollout "broken": spec.strategy.canary.steps[0].setWeight: Too big: expected number to be <=100
// The GitSync reconciler (src/controller/gitsync/) and the kubectl plugin's `lint` both call
// lintManifests, so the two report the same problems at the same places.
//
// YAML is parsed with `yaml` (v2), not js-yaml: js-yaml returns plain values only, and a
// zod issue's path (spec.strategy.canary.steps[0].setWeight) can only be turned into a line
// and column through the source ranges of yaml's nodes. js-yaml stays where plain values
// are all that is needed (writing YAML: the CRDs, e2e manifests).
// The schema is YAML 1.2 core (no timestamps, no `yes` booleans) with merge keys, duplicate
// keys refused, aliases capped (no "billion laughs"), nesting capped.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type Document } from 'yaml';
import { z } from 'zod';
import { AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate } from '../../api/analysis.ts';
import { GitSync } from '../../api/git-sync.ts';
import { GROUP } from '../../api/meta.ts';
import { Rollout } from '../../api/rollout.ts';
import { formatIssues, formatPath } from '../shared/zod-issues.ts';
import { referencedServices, validateRollout } from '../rollout/validate.ts';

export type { GitSyncPolicy } from './placement.ts';

// ---------------------------------------------------------------------------------------
// Types

/** A file read from a commit, decoded as UTF-8. */
export interface SourceFile {
  path: string;
  content: string;
}

/** Where something is in the repository; `document`, `line` and `column` are 1-based. */
export interface SourcePosition {
  file: string;
  document: number;
  line: number;
  column: number;
}

/** A Kubernetes object as written in Git (parsed, not yet trusted beyond the generic shape). */
export type ManifestObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
};

/** The parsed YAML behind a manifest: what positionOf reads field positions from. */
export interface ManifestSyntax {
  readonly node: unknown;
  readonly doc: Document;
  readonly lines: LineCounter;
}

export interface Manifest {
  /** Where the object starts. */
  source: SourcePosition;
  object: ManifestObject;
  syntax?: ManifestSyntax | undefined;
}

/** A problem a user can act on; `reason` is CamelCase for conditions and Events; the message starts with `file:line:column:`. */
export interface ManifestProblem {
  reason: string;
  message: string;
  /** The message without its location (for a tool that prints the location itself). */
  detail?: string;
  file?: string;
  document?: number;
  line?: number;
  column?: number;
}

/** A field path as zod reports it: ['spec', 'strategy', 'canary', 'steps', 0, 'setWeight']. */
export type FieldPath = ReadonlyArray<PropertyKey>;

export function splitApiVersion(apiVersion: string): [group: string, version: string] {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? ['', apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

// ---------------------------------------------------------------------------------------
// Positions

/** `file:line:column` of a position. */
export const describePosition = (p: SourcePosition) => `${p.file}:${p.line}:${p.column}`;

/**
 * The position of a field of a manifest: of its value (a scalar) or of its key (a map or a
 * list, or `target: 'key'`). A field that is not in the file (a required one that is missing,
 * or one that came through a merge key) points at the key of the nearest enclosing field
 * that is there, else at the object itself.
 */
export function positionOf(manifest: Pick<Manifest, 'source' | 'syntax'>, path: FieldPath, target: 'value' | 'key' = 'value'): SourcePosition {
  const { source, syntax } = manifest;
  if (!syntax) return source;
  const at = (range: unknown): SourcePosition | undefined => {
    const offset = (range as [number, number, number] | undefined)?.[0];
    if (offset === undefined) return undefined;
    const { line, col } = syntax.lines.linePos(offset);
    return { file: source.file, document: source.document, line, column: col };
  };
  let node: unknown = syntax.node;
  let enclosingKey: SourcePosition | undefined;
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(syntax.doc);
    const segment = path[i];
    const last = i === path.length - 1;
    let keyAt: SourcePosition | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment));
      if (!pair) return enclosingKey ?? source;
      keyAt = at((pair.key as { range?: unknown } | null)?.range);
      if (last && target === 'key') return keyAt ?? enclosingKey ?? source;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      node = node.items[segment];
      keyAt = at((node as { range?: unknown }).range);
    } else {
      return enclosingKey ?? source;
    }
    if (keyAt) enclosingKey = keyAt;
  }
  if (isAlias(node)) node = node.resolve(syntax.doc);
  const range = (node as { range?: [number, number, number] } | null)?.range;
  // A scalar (also an empty one) is pointed at itself; a map or a list at its key.
  if (isScalar(node) && range && range[1] > range[0]) return at(range) ?? enclosingKey ?? source;
  return enclosingKey ?? at(range) ?? source;
}

/** The field path a message about a field starts with ("spec.selector does not …" -> ['spec', 'selector']). */
export function leadingPath(message: string): Array<string | number> | undefined {
  const match = /^([A-Za-z_$][\w$-]*(?:\.[A-Za-z_$][\w$-]*|\[\d+\])*)(?=[:\s]|$)/.exec(message);
  if (!match?.[1]?.includes('.') && !match?.[1]?.includes('[')) return undefined;
  const path: Array<string | number> = [];
  for (const part of (match[1] as string).matchAll(/([A-Za-z_$][\w$-]*)|\[(\d+)\]/g)) path.push(part[2] !== undefined ? Number(part[2]) : (part[1] as string));
  return path;
}

/** A problem at a position: the message is `file:line:column: <subject>: <text>`. */
export function problemAt(reason: string, position: SourcePosition, subject: string | undefined, text: string): ManifestProblem {
  const detail = `${subject ? `${subject}: ` : ''}${text}`;
  return { reason, message: `${describePosition(position)}: ${detail}`, detail, ...position };
}

const subjectOf = (object: { kind: string; metadata: { name: string } }) => `${object.kind} "${object.metadata.name}"`;

// ---------------------------------------------------------------------------------------
// Parsing

const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];
const MAX_ALIASES = 1000;
const MAX_DEPTH = 100;
/** Problems reported per object at most (the rest are counted). */
const MAX_PROBLEMS_PER_OBJECT = 10;

export function isManifestPath(path: string): boolean {
  const lower = path.toLowerCase();
  return MANIFEST_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

const ManifestName = z
  .string({ error: 'metadata.name is required' })
  .min(1, 'metadata.name must not be empty')
  .max(253, 'metadata.name is longer than 253 characters')
  .regex(/^[^/%\s]+$/, 'metadata.name must not contain "/", "%" or spaces');

/** The shape every object needs before the API server can be asked about it. */
const GenericManifest = z.looseObject({
  apiVersion: z.string({ error: 'apiVersion is required' }).min(1, 'apiVersion must not be empty'),
  kind: z.string({ error: 'kind is required' }).regex(/^[A-Z][A-Za-z0-9]*$/, 'kind must be a CamelCase name such as Rollout'),
  metadata: z.looseObject(
    {
      name: ManifestName,
      namespace: z.string().min(1).optional(),
      labels: z.record(z.string(), z.string({ error: 'must be a string (quote numbers and booleans)' })).optional(),
      annotations: z.record(z.string(), z.string({ error: 'must be a string (quote numbers and booleans)' })).optional(),
    },
    { error: 'metadata is required (with at least a name)' },
  ),
});

/** Nesting depth of a plain value, without recursion (a deep document must not overflow the stack). */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    max = Math.max(max, depth);
    if (max > MAX_DEPTH) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return max;
}

/** Parses one file into manifests; each problem names the file, the line and the column (never the text: it may be a Secret). */
export function parseManifestFile(file: SourceFile): { manifests: Manifest[]; problems: ManifestProblem[] } {
  const manifests: Manifest[] = [];
  const problems: ManifestProblem[] = [];
  const text = file.content.replace(/^\uFEFF/, '');
  const lines = new LineCounter();
  const position = (offset: number, document: number): SourcePosition => {
    const { line, col } = lines.linePos(offset);
    return { file: file.path, document, line, column: col };
  };
  let docs: Document[];
  try {
    const parsed = parseAllDocuments(text, { lineCounter: lines, version: '1.2', schema: 'core', merge: true, uniqueKeys: true, prettyErrors: false });
    docs = [...parsed];
    if ('empty' in parsed) for (const error of parsed.errors) problems.push(yamlProblem(error, position(error.pos[0], 1)));
  } catch (err) {
    // e.g. a stack overflow on absurd nesting
    problems.push(problemAt('InvalidYAML', position(0, 1), undefined, `invalid YAML: ${(err as Error).message}`));
    return { manifests, problems };
  }
  let document = 0;
  for (const doc of docs) {
    // Documents with nothing in them (a marker, comments) are not counted.
    if (isEmpty(doc) && doc.errors.length === 0) continue;
    document++;
    const [error] = doc.errors;
    if (error) {
      problems.push(yamlProblem(error, position(errorOffset(doc, error.pos[0]), document)));
      continue;
    }
    const start = position((doc.contents as { range?: [number, number, number] } | null)?.range?.[0] ?? 0, document);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (err) {
      problems.push(problemAt('InvalidYAML', start, undefined, `invalid YAML: ${(err as Error).message}`));
      continue;
    }
    if (depthOf(value) > MAX_DEPTH) {
      problems.push(problemAt('InvalidYAML', start, undefined, `invalid YAML: nested deeper than ${MAX_DEPTH} levels`));
      continue;
    }
    pushDocument(value, { source: start, syntax: { node: doc.contents, doc, lines } }, manifests, problems);
  }
  return { manifests, problems };
}

/** A document without content: no node, or an empty scalar (only comments after its marker). */
function isEmpty(doc: Document): boolean {
  const contents = doc.contents;
  return contents === null || (isScalar(contents) && contents.value === null && !!contents.range && contents.range[0] === contents.range[1]);
}

/** Where an error is best shown: the start of the scalar it is in (an unterminated string is reported at its end). */
function errorOffset(doc: Document, offset: number): number {
  let best = offset;
  visit(doc, {
    Scalar(_key, node) {
      const range = node.range;
      if (range && range[0] < offset && offset <= range[2] && (best === offset || range[0] > best)) best = range[0];
    },
  });
  return best;
}

function yamlProblem(error: { message: string; code?: string }, at: SourcePosition): ManifestProblem {
  // prettyErrors is off: the message is the reason alone, never a snippet of the document.
  return problemAt('InvalidYAML', at, undefined, `invalid YAML: ${error.message}`);
}

function pushDocument(value: unknown, where: Pick<Manifest, 'source' | 'syntax'>, manifests: Manifest[], problems: ManifestProblem[]): void {
  if (value === null || value === undefined) return; // an empty document
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(problemAt('InvalidManifest', where.source, undefined, `not a Kubernetes object (found ${Array.isArray(value) ? 'a list' : typeof value})`));
    return;
  }
  const obj = value as Record<string, unknown>;
  // `kind: List` (as kubectl writes) holds objects in items.
  if (obj.kind === 'List' && typeof obj.apiVersion === 'string' && Array.isArray(obj.items)) {
    obj.items.forEach((item, i) => {
      const source = positionOf(where, ['items', i]);
      const node =
        where.syntax && isMap(where.syntax.node) ? (where.syntax.node.get('items', true) as { items?: unknown[] } | undefined)?.items?.[i] : undefined;
      pushDocument(item, { source, syntax: where.syntax && node ? { ...where.syntax, node } : undefined }, manifests, problems);
    });
    return;
  }
  const parsed = GenericManifest.safeParse(obj);
  if (!parsed.success) {
    const name = typeof (obj.metadata as { name?: unknown } | undefined)?.name === 'string' ? (obj.metadata as { name: string }).name : undefined;
    const subject = typeof obj.kind === 'string' && name ? `${obj.kind} "${name}"` : undefined;
    for (const issue of parsed.error.issues.slice(0, MAX_PROBLEMS_PER_OBJECT)) {
      problems.push(problemAt('InvalidManifest', positionOf(where, issue.path), subject, formatIssues([issue])));
    }
    return;
  }
  manifests.push({ source: where.source, object: obj as ManifestObject, syntax: where.syntax });
}

export function parseManifests(files: SourceFile[]): { manifests: Manifest[]; problems: ManifestProblem[] } {
  const manifests: Manifest[] = [];
  const problems: ManifestProblem[] = [];
  for (const file of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    const result = parseManifestFile(file);
    manifests.push(...result.manifests);
    problems.push(...result.problems);
  }
  return { manifests, problems };
}

// ---------------------------------------------------------------------------------------
// Validation of each manifest

/** Paths present in the input that the (non-loose) schema dropped: typos such as `stratgy`. */
export function unknownFieldPaths(input: unknown, output: unknown, path: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(input) && Array.isArray(output)) {
    return input.flatMap((item, i) => unknownFieldPaths(item, output[i], [...path, i]));
  }
  if (isPlainObject(input) && isPlainObject(output)) {
    const found: Array<Array<string | number>> = [];
    for (const key of Object.keys(input)) {
      if (!(key in output)) found.push([...path, key]);
      else found.push(...unknownFieldPaths(input[key], output[key], [...path, key]));
    }
    return found;
  }
  return [];
}

/** The same, written as people write paths (`spec.stratgy`). */
export function unknownFields(input: unknown, output: unknown): string[] {
  return unknownFieldPaths(input, output).map((p) => formatPath(p));
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Schemas of the Sluice kinds a GitSync may apply; other sluice.dev kinds are refused. */
const SLUICE_SCHEMAS: Record<string, z.ZodType> = {
  Rollout,
  AnalysisTemplate,
  ClusterAnalysisTemplate,
  AnalysisRun,
  GitSync,
};

/** Schema checks of one manifest: Sluice kinds against their zod schemas (and the Rollout rules the CRD cannot express), each problem at its field. */
export function validateManifest(manifest: Manifest): ManifestProblem[] {
  const { object } = manifest;
  const subject = subjectOf(object);
  const at = (path: FieldPath, target: 'value' | 'key' = 'value') => positionOf(manifest, path, target);
  const [group, version] = splitApiVersion(object.apiVersion);
  if (group !== GROUP) return [];
  const schema = SLUICE_SCHEMAS[object.kind];
  if (!schema) return [problemAt('UnknownKind', at(['kind']), subject, `unknown Sluice kind; expected one of ${Object.keys(SLUICE_SCHEMAS).join(', ')}`)];
  if (version !== 'v1alpha1')
    return [problemAt('UnknownKind', at(['apiVersion']), subject, `unsupported apiVersion ${object.apiVersion}; use ${GROUP}/v1alpha1`)];
  const { status: _status, ...withoutStatus } = object;
  const parsed = schema.safeParse(withoutStatus);
  const problems: ManifestProblem[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(problemAt('InvalidManifest', at(issue.path), subject, formatIssues([issue])));
  } else {
    const unknown = unknownFieldPaths(withoutStatus, parsed.data).filter((p) => p[0] !== 'metadata');
    for (const path of unknown) problems.push(problemAt('InvalidManifest', at(path, 'key'), subject, `unknown field ${formatPath(path)} (misspelt?)`));
    if (object.kind === 'Rollout') {
      const rollout = parsed.data as Rollout;
      // Services are checked by the rollout controller at run time; here every referenced one counts as present.
      const services = Object.fromEntries(referencedServices(rollout).map((name) => [name, { metadata: { name } }]));
      for (const message of validateRollout(rollout, services as Parameters<typeof validateRollout>[1])) {
        problems.push(problemAt('InvalidManifest', at(leadingPath(message) ?? [], 'key'), subject, message));
      }
    }
  }
  return capped(problems, manifest);
}

function capped(problems: ManifestProblem[], manifest: Manifest): ManifestProblem[] {
  if (problems.length <= MAX_PROBLEMS_PER_OBJECT) return problems;
  const rest = problems.length - MAX_PROBLEMS_PER_OBJECT;
  return [
    ...problems.slice(0, MAX_PROBLEMS_PER_OBJECT),
    problemAt('InvalidManifest', manifest.source, subjectOf(manifest.object), `and ${rest} more problem${rest > 1 ? 's' : ''} in this object`),
  ];
}

/** Problems in reading order: by file, then line, then column. */
export function sortProblems(problems: ManifestProblem[]): ManifestProblem[] {
  return [...problems].sort((a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

/**
 * Everything that can be said about a set of files without a cluster: YAML, the generic
 * shape of each object, Sluice kinds against their schemas. What the GitSync sync checks
 * first, and what `kubectl sluice lint` prints; problems in reading order.
 */
export function lintManifests(files: SourceFile[]): { manifests: Manifest[]; problems: ManifestProblem[] } {
  const { manifests, problems } = parseManifests(files);
  for (const m of manifests) problems.push(...validateManifest(m));
  return { manifests, problems: sortProblems(problems) };
}

/**
 * The field an API server's refusal names, e.g. `Service "web" is invalid: spec.ports[0].port:
 * Invalid value: 70000: …` -> ['spec', 'ports', 0, 'port'] (to point a dry-run failure at it).
 */
export function apiErrorField(message: string): Array<string | number> | undefined {
  const match = /is invalid: (.*)$/s.exec(message);
  return match ? leadingPath(match[1] as string) : undefined;
}
