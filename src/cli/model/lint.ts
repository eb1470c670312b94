// `kubectl sluice lint`: offline validation with the controller's own pieces - what a GitSync
// checks first (core/gitops/manifests.ts lintManifests: YAML, each object's shape, the Sluice
// kinds against their schemas and the Rollout rules the CRD cannot express, each problem at the
// line and column of the failing field), then CEL compilation of analysis conditions and GitSync
// schedules, pointed at their fields too. Pure: files in, problems out.
import { AnalysisRunSpec, AnalysisTemplateSpec } from '../../api/analysis.ts';
import { GitSyncSpec } from '../../api/git-sync.ts';
import { GROUP } from '../../api/meta.ts';
import { compileMetrics } from '../../core/analysis/compile.ts';
import { scheduleProblems } from '../../core/gitops/schedule.ts';
import {
  leadingPath,
  lintManifests,
  positionOf,
  problemAt,
  sortProblems,
  splitApiVersion,
  type FieldPath,
  type Manifest,
  type ManifestProblem,
  type SourceFile,
} from '../../core/gitops/manifests.ts';

export interface LintProblem {
  file: string;
  /** 1-based, like line and column. */
  document?: number;
  line?: number;
  column?: number;
  reason: string;
  /** The problem without its location. */
  message: string;
}

export interface LintResult {
  files: number;
  objects: number;
  problems: LintProblem[];
}

/** The message without its location: the parser's `detail`, else the message with its "file: document N (…): " prefix dropped. */
function withoutLocation(problem: ManifestProblem): string {
  if (problem.detail !== undefined) return problem.detail;
  let message = problem.message;
  if (problem.file && message.startsWith(`${problem.file}: `)) message = message.slice(problem.file.length + 2);
  return message.replace(/^document \d+(?: \([^)]*\))?: /, '');
}

export function toLintProblem(problem: ManifestProblem, fallbackFile = ''): LintProblem {
  return {
    file: problem.file ?? fallbackFile,
    ...(problem.document !== undefined ? { document: problem.document } : {}),
    ...(problem.line !== undefined ? { line: problem.line } : {}),
    ...(problem.column !== undefined ? { column: problem.column } : {}),
    reason: problem.reason,
    message: withoutLocation(problem),
  };
}

/**
 * Args a Rollout supplies at run time have no value in the template; conditions that use them
 * are compiled with a stand-in number so that the rest of the expression is still checked.
 */
const STAND_IN = '0';

/** The metric field a compileMetrics problem is about ("metric m: invalid failureCondition …" -> failureCondition). */
const METRIC_FIELDS = ['successCondition', 'failureCondition', 'interval', 'initialDelay', 'count', 'query', 'timeout', 'rangeQuery', 'header'];
/** A web metric's fields a problem may be about (under provider.web). */
const WEB_FIELDS = ['timeoutSeconds', 'jsonPath', 'url', 'header', 'jsonBody', 'body', 'web authentication'];

function analysisProblems(manifest: Manifest): Array<{ path: FieldPath; text: string }> {
  const { object } = manifest;
  const parsed = (object.kind === 'AnalysisRun' ? AnalysisRunSpec : AnalysisTemplateSpec).safeParse(object.spec);
  if (!parsed.success) return []; // validateManifest reported it
  const literal = new Map(
    (parsed.data.args ?? []).flatMap((a) =>
      a.value !== undefined
        ? [[a.name, { value: a.value, secret: false }] as const]
        : a.valueFrom?.secretKeyRef
          ? []
          : [[a.name, { value: STAND_IN, secret: false }] as const],
    ),
  );
  const compiled = compileMetrics(parsed.data, literal);
  if (compiled.ok) return [];
  return compiled.error
    .split('; metric ')
    .map((p, i) => (i === 0 ? p : `metric ${p}`))
    .map((text) => {
      const name = /^metric ([^:]+):/.exec(text)?.[1];
      const index = parsed.data.metrics.findIndex((m) => m.name === name);
      if (index < 0) return { path: ['spec', 'metrics'], text };
      const path: Array<string | number> = ['spec', 'metrics', index];
      if (parsed.data.metrics[index]?.provider.web) {
        const webField = WEB_FIELDS.find((f) => new RegExp(`^metric [^:]+: ${f}\\b`).test(text));
        path.push(
          ...(webField ? ['provider', 'web', webField === 'header' ? 'headers' : webField === 'web authentication' ? 'authentication' : webField] : []),
        );
        if (webField) return { path, text };
      }
      const field = METRIC_FIELDS.find((f) => new RegExp(`^metric [^:]+: (?:invalid )?${f}\\b`).test(text));
      if (field === 'query' || field === 'timeout' || field === 'rangeQuery' || field === 'header')
        path.push('provider', 'prometheus', field === 'header' ? 'headers' : field);
      else if (field) path.push(field);
      return { path, text };
    });
}

function gitSyncProblems(manifest: Manifest): Array<{ path: FieldPath; text: string }> {
  const parsed = GitSyncSpec.safeParse(manifest.object.spec);
  if (!parsed.success) return [];
  return scheduleProblems(parsed.data).map((text) => ({ path: leadingPath(text) ?? ['spec'], text }));
}

/** The checks beyond the schema, for Sluice kinds whose schema check passed. */
function deeperProblems(manifest: Manifest): ManifestProblem[] {
  const [group, version] = splitApiVersion(manifest.object.apiVersion);
  if (group !== GROUP || version !== 'v1alpha1') return [];
  let found: Array<{ path: FieldPath; text: string }> = [];
  switch (manifest.object.kind) {
    case 'AnalysisTemplate':
    case 'ClusterAnalysisTemplate':
    case 'AnalysisRun':
      found = analysisProblems(manifest);
      break;
    case 'GitSync':
      found = gitSyncProblems(manifest);
      break;
  }
  const subject = `${manifest.object.kind} "${manifest.object.metadata.name}"`;
  return found.map(({ path, text }) => problemAt('InvalidManifest', positionOf(manifest, path), subject, text));
}

export function lintFiles(files: readonly SourceFile[]): LintResult {
  const { manifests, problems } = lintManifests([...files]);
  const invalid = new Set(problems.map((p) => `${p.file}#${p.document}`));
  // Objects whose schema check failed are not checked further (their fields may not be there).
  const deeper = manifests.filter((m) => !invalid.has(`${m.source.file}#${m.source.document}`)).flatMap(deeperProblems);
  return { files: files.length, objects: manifests.length, problems: sortProblems([...problems, ...deeper]).map((p) => toLintProblem(p)) };
}

/** `file:line:column: message`, as compilers print, so editors and CI annotations can jump there. */
export function renderLintProblem(p: LintProblem): string {
  const at = [p.file, p.line, p.line !== undefined ? p.column : undefined].filter((x) => x !== undefined).join(':');
  return `${at}: ${p.document !== undefined ? `document ${p.document}: ` : ''}${p.message}`;
}

export function renderLintSummary(r: LintResult): string {
  const files = new Set(r.problems.map((p) => p.file)).size;
  if (r.problems.length === 0) return `${r.files} file${r.files === 1 ? '' : 's'}, ${r.objects} object${r.objects === 1 ? '' : 's'}: no problems\n`;
  return `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} in ${files} of ${r.files} file${r.files === 1 ? '' : 's'}\n`;
}
