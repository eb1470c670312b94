// Which metric-provider addresses the controller may call: a controller-level policy (the
// --analysis-allowed-addresses flag), so that whoever may create an AnalysisTemplate cannot point
// the controller's network position (and the opted-in Secrets it sends as auth) at any host.
// Pure. An empty policy allows every address (the default; the chart documents the choice).
import type { Result } from '../shared/result.ts';

export interface AddressPattern {
  /** e.g. "https:"; undefined = http or https. */
  protocol?: string;
  /** an exact host, or "*.example.com" for any host below example.com */
  host: string;
  /** undefined = any port */
  port?: string;
}

/** Parses one entry: `host`, `*.domain`, `host:port`, or a URL such as `https://prom.monitoring:9090`. */
export function parseAddressPattern(entry: string): Result<AddressPattern> {
  const text = entry.trim().toLowerCase();
  if (text === '') return { ok: false, error: 'an empty address pattern' };
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme.replace('://*.', '://wildcard.'));
  } catch {
    return { ok: false, error: `"${entry}" is not a host, host:port or URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, error: `"${entry}": only http and https addresses can be allowed` };
  if (url.username || url.password || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    return { ok: false, error: `"${entry}": give a host (and port), not credentials or a path` };
  }
  const host = withScheme.includes('://*.') ? `*.${url.hostname.slice('wildcard.'.length)}` : url.hostname;
  return {
    ok: true,
    value: {
      ...(text === withScheme ? { protocol: url.protocol } : {}),
      host,
      ...(url.port ? { port: url.port } : text.match(/:\d+$/) ? { port: text.slice(text.lastIndexOf(':') + 1) } : {}),
    },
  };
}

export function parseAddressPolicy(entries: readonly string[]): Result<AddressPattern[]> {
  const out: AddressPattern[] = [];
  for (const entry of entries) {
    const parsed = parseAddressPattern(entry);
    if (!parsed.ok) return parsed;
    out.push(parsed.value);
  }
  return { ok: true, value: out };
}

const defaultPort = (protocol: string) => (protocol === 'https:' ? '443' : '80');

/** Whether the controller may send a query to `address` (no policy: every address). */
export function isAddressAllowed(address: string, policy: readonly AddressPattern[]): boolean {
  if (policy.length === 0) return true;
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return false;
  }
  const host = url.hostname.toLowerCase();
  const port = url.port || defaultPort(url.protocol);
  return policy.some((p) => {
    if (p.protocol && p.protocol !== url.protocol) return false;
    if (p.port && p.port !== port) return false;
    return p.host.startsWith('*.') ? host.endsWith(p.host.slice(1)) && host.length > p.host.length - 1 : host === p.host;
  });
}

const PLACEHOLDER = /\{\{\s*args\.[A-Za-z0-9_.-]+?\s*\}\}/g;

/**
 * Whether the policy can judge an address that still holds `{{args.x}}` placeholders (args from
 * Secrets, not read yet): when no value could change its scheme, host or port (they sit in the
 * path or the query). The address comes back as it is then, else undefined (judge it once the
 * values are in).
 */
export function addressBeforeArgs(address: string): string | undefined {
  const origin = (text: string) => {
    try {
      return new URL(text).origin;
    } catch {
      return undefined;
    }
  };
  const asWritten = origin(address);
  const stable = ['sluice-arg', 'x.y:1@z/', ''].map((stand) => origin(address.replace(PLACEHOLDER, stand))).every((o) => o === asWritten);
  return asWritten !== undefined && asWritten !== 'null' && stable ? address : undefined;
}
