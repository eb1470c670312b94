// `kubectl sluice lint`: offline validation with the controller's own pieces - the shared manifest
// parser (file, document, line, and column where the parser knows it), the zod schemas with the
// Rollout rules the CRD cannot express, CEL compilation of analysis conditions, and GitSync
// schedules. Pure: files in, problems out.
import { AnalysisRunSpec, AnalysisTemplateSpec } from '../../api/analysis.ts';
import { GitSyncSpec } from '../../api/git-sync.ts';
import { GROUP } from '../../api/meta.ts';
import { compileMetrics } from '../../core/analysis/verdicts.ts';
import { scheduleProblems } from '../../core/gitops/schedule.ts';
import { parseManifests, splitApiVersion, validateManifest, type Manifest, type ManifestProblem, type SourceFile } from '../../core/gitops/manifests.ts';

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

type Located = ManifestProblem & { column?: number };

/** Drops the "file: document N (line L): " prefix the shared validators put in front of their messages. */
function withoutLocation(problem: Located): string {
  let message = problem.message;
  if (problem.file && message.startsWith(`${problem.file}: `)) message = message.slice(problem.file.length + 2);
  return message.replace(/^document \d+(?: \([^)]*\))?: /, '');
}

export function toLintProblem(problem: Located, fallbackFile = ''): LintProblem {
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

function analysisProblems(manifest: Manifest): string[] {
  const { object } = manifest;
  const isRun = object.kind === 'AnalysisRun';
  const parsed = (isRun ? AnalysisRunSpec : AnalysisTemplateSpec).safeParse(object.spec);
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
  return compiled.ok ? [] : compiled.error.split('; metric ').map((p, i) => (i === 0 ? p : `metric ${p}`));
}

function gitSyncProblems(manifest: Manifest): string[] {
  const parsed = GitSyncSpec.safeParse(manifest.object.spec);
  return parsed.success ? scheduleProblems(parsed.data) : [];
}

/** The checks beyond the schema, for Sluice kinds whose schema check passed. */
function deeperProblems(manifest: Manifest): string[] {
  const [group, version] = splitApiVersion(manifest.object.apiVersion);
  if (group !== GROUP || version !== 'v1alpha1') return [];
  switch (manifest.object.kind) {
    case 'AnalysisTemplate':
    case 'ClusterAnalysisTemplate':
    case 'AnalysisRun':
      return analysisProblems(manifest);
    case 'GitSync':
      return gitSyncProblems(manifest);
    default:
      return [];
  }
}

export function lintFiles(files: readonly SourceFile[]): LintResult {
  const { manifests, problems: parseProblems } = parseManifests([...files]);
  const problems: LintProblem[] = parseProblems.map((p) => toLintProblem(p));
  for (const manifest of manifests) {
    const schema = validateManifest(manifest);
    problems.push(...schema.map((p) => toLintProblem(p, manifest.source.file)));
    if (schema.length > 0) continue;
    const what = `${manifest.object.kind} "${manifest.object.metadata.name}"`;
    for (const message of deeperProblems(manifest)) {
      const source = manifest.source as Manifest['source'] & { column?: number };
      problems.push({
        file: source.file,
        document: source.document,
        line: source.line,
        ...(source.column !== undefined ? { column: source.column } : {}),
        reason: 'InvalidManifest',
        message: `${what}: ${message}`,
      });
    }
  }
  problems.sort((a, b) => a.file.localeCompare(b.file) || (a.document ?? 0) - (b.document ?? 0) || (a.line ?? 0) - (b.line ?? 0));
  return { files: files.length, objects: manifests.length, problems };
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
