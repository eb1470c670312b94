// The one way zod issues become text: `spec.strategy.canary.steps[0].setWeight: Too big: …`.
type Issue = { readonly path: ReadonlyArray<PropertyKey>; readonly message: string };

/** A zod path as people write it: `spec.steps[0].setWeight`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** The first `max` issues as `path: message`, joined with "; ", with a count of the rest. */
export function formatIssues(issues: ReadonlyArray<Issue>, max = 5): string {
  const shown = issues.slice(0, max).map((i) => (i.path.length ? `${formatPath(i.path)}: ${i.message}` : i.message));
  const more = issues.length > max ? `; and ${issues.length - max} more` : '';
  return shown.join('; ') + more;
}
