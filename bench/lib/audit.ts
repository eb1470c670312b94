// API requests by client, from the API server's audit log. The API server's own request
// counter (apiserver_request_total) has no user-agent label, so it cannot tell one client from
// another; the audit log is the API server's own record that does. Policy: every request at
// Metadata level; each request is counted once: at ResponseComplete, or for a watch (which may
// still be open when the figures are read) at ResponseStarted.
//
// The API server's log writer rotates the file at --audit-log-maxsize megabytes, and 0 there
// means its default of 100 MB, not "never": a run at N=1,000 writes more than that, and a count
// that read only the live file came back with a fraction of the requests. So the limit is set
// far above a run's size, and a count still follows the marked file through a rotation (renamed
// to audit-<time>.log, the same inode) and fails loudly when the marked part is gone.
import { createReadStream, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { createInterface } from 'node:readline';

export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`;

export function auditArgs(dir: string): { args: string[]; logFile: string } {
  const policy = `${dir}/audit-policy.yaml`;
  const logFile = `${dir}/audit.log`;
  writeFileSync(policy, AUDIT_POLICY);
  return {
    logFile,
    args: [`--audit-policy-file=${policy}`, `--audit-log-path=${logFile}`, '--audit-log-format=json', '--audit-log-maxsize=1000000', '--audit-log-maxbackup=0'],
  };
}

/** Where a count starts: the log file as it is now (its inode and size). */
export interface AuditMark {
  file: string;
  ino: number;
  offset: number;
}

export const auditMark = (file: string): AuditMark => {
  try {
    const st = statSync(file);
    return { file, ino: st.ino, offset: st.size };
  } catch {
    return { file, ino: -1, offset: 0 }; // nothing written yet: the whole of whatever comes
  }
};

/** The files holding what was written since the mark, oldest first, each with where to start. */
function segments(mark: AuditMark): { path: string; start: number }[] {
  const dir = dirname(mark.file);
  const ext = extname(mark.file);
  const stem = basename(mark.file, ext);
  const rotated = readdirSync(dir)
    .filter((f) => f.startsWith(`${stem}-`) && f.endsWith(ext))
    .sort() // the writer's timestamps sort as text
    .map((f) => join(dir, f));
  const files = [...rotated, mark.file].map((path) => ({ path, st: statSync(path, { throwIfNoEntry: false }) }));
  if (mark.ino === -1) return files.filter((f) => f.st).map((f) => ({ path: f.path, start: 0 }));
  const first = files.findIndex((f) => f.st?.ino === mark.ino);
  if (first < 0) throw new Error(`audit log ${mark.file} was rotated and the part written since the count began is gone`);
  if (files[first]!.st!.size < mark.offset) throw new Error(`audit log ${mark.file} was replaced or truncated since the count began`);
  return files.slice(first).flatMap((f, i) => (f.st ? [{ path: f.path, start: i === 0 ? mark.offset : 0 }] : []));
}

export interface RequestCounts {
  total: number;
  byVerb: Record<string, number>;
  /** "verb resource[/subresource][ dry-run][ <HTTP status> when not 2xx]" */
  byRequest: Record<string, number>;
  userAgents: string[];
}

/** Counts the requests made by user agents matching `ua` received in [from, to] (ms since epoch). */
export async function countRequests(mark: AuditMark, ua: RegExp, from: number, to: number): Promise<RequestCounts> {
  const out: RequestCounts = { total: 0, byVerb: {}, byRequest: {}, userAgents: [] };
  const agents = new Set<string>();
  for (const { path, start } of segments(mark)) await countFile(path, start, ua, from, to, out, agents);
  out.userAgents = [...agents];
  return out;
}

async function countFile(file: string, start: number, ua: RegExp, from: number, to: number, out: RequestCounts, agents: Set<string>): Promise<void> {
  const rl = createInterface({ input: createReadStream(file, { start }) });
  for await (const line of rl) {
    if (!line.includes('"ResponseComplete"') && !line.includes('"ResponseStarted"')) continue;
    let ev: Record<string, any>;
    try {
      ev = JSON.parse(line);
    } catch {
      continue; // a line cut at the offset
    }
    if (!ua.test(ev.userAgent ?? '')) continue;
    if (ev.stage !== (ev.verb === 'watch' ? 'ResponseStarted' : 'ResponseComplete')) continue;
    const t = Date.parse(ev.requestReceivedTimestamp);
    if (t < from || t > to) continue;
    agents.add(ev.userAgent);
    const ref = ev.objectRef ?? {};
    const dry = /[?&]dryRun=/.test(ev.requestURI ?? '') ? ' dry-run' : '';
    const code = Number(ev.responseStatus?.code ?? 0);
    const failed = code >= 300 ? ` ${code}` : '';
    const what = `${ev.verb} ${ref.resource ?? ev.requestURI}${ref.subresource ? `/${ref.subresource}` : ''}${dry}${failed}`;
    out.total++;
    out.byVerb[ev.verb] = (out.byVerb[ev.verb] ?? 0) + 1;
    out.byRequest[what] = (out.byRequest[what] ?? 0) + 1;
  }
}
