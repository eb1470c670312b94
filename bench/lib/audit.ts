// API requests by client, from the API server's audit log. The API server's own request
// counter (apiserver_request_total) has no user-agent label, so it cannot tell one client from
// another; the audit log is the API server's own record that does. Policy: every request at
// Metadata level; each request is counted once: at ResponseComplete, or for a watch (which may
// still be open when the figures are read) at ResponseStarted.
import { createReadStream, statSync, writeFileSync } from 'node:fs';
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
    args: [`--audit-policy-file=${policy}`, `--audit-log-path=${logFile}`, '--audit-log-format=json', '--audit-log-maxsize=0', '--audit-log-maxbackup=0'],
  };
}

export const auditOffset = (file: string): number => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

export interface RequestCounts {
  total: number;
  byVerb: Record<string, number>;
  /** "verb resource[/subresource][ dry-run][ <HTTP status> when not 2xx]" */
  byRequest: Record<string, number>;
  userAgents: string[];
}

/** Counts the requests made by user agents matching `ua` received in [from, to] (ms since epoch). */
export async function countRequests(file: string, fromOffset: number, ua: RegExp, from: number, to: number): Promise<RequestCounts> {
  const out: RequestCounts = { total: 0, byVerb: {}, byRequest: {}, userAgents: [] };
  const agents = new Set<string>();
  const rl = createInterface({ input: createReadStream(file, { start: fromOffset }) });
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
  out.userAgents = [...agents];
  return out;
}
