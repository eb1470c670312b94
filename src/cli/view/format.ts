// Small pure formatters shared by the tables, the tree and the status lines.

/** kubectl's style of age: 45s, 5m30s, 47m, 3h15m, 27h, 3d4h, 200d, 2y. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
  if (d < 730) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

/** Time since `iso`, or "<unknown>" when there is none. */
export function age(iso: string | undefined, now: Date): string {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now.getTime() - t);
}

/** "in 1m30s" for a future time, "1m30s ago" for a past one. */
export function relative(iso: string | undefined, now: Date): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(t)) return '<unknown>';
  const diff = t - now.getTime();
  return diff >= 0 ? `in ${humanDuration(diff)}` : `${humanDuration(-diff)} ago`;
}

/** A commit as shown in tables and messages (12 hex digits, as the GitSync status does). */
export const shortCommit = (commit: string | undefined) => (commit ? commit.slice(0, 12) : undefined);

export const orDash = (value: string | number | undefined | null) => (value === undefined || value === null || value === '' ? '-' : String(value));

/** An ISO time without milliseconds, as people read it in logs: 2026-01-01T00:00:05Z. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** An RFC 3339 time as written by the API server or the controller, without its milliseconds. */
export const trimMillis = (iso: string) => iso.replace(/\.\d+Z$/, 'Z');
