// Pure helpers for durations written as Go-style strings or whole seconds.
import type { Duration } from './meta.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds for a duration; throws a readable error for anything that is not one. */
export function durationToMs(value: Duration): number {
  if (typeof value === 'number') return value * 1000;
  if (/^[0-9]+$/.test(value)) return Number(value) * 1000;
  const part = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/y;
  let total = 0;
  let index = 0;
  while (index < value.length) {
    part.lastIndex = index;
    const match = part.exec(value);
    if (!match) throw new Error(`invalid duration "${value}": expected e.g. 30s, 5m, 1h30m or whole seconds`);
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    index = part.lastIndex;
  }
  if (value.length === 0) throw new Error('invalid duration "": expected e.g. 30s, 5m, 1h30m or whole seconds');
  return Math.round(total);
}

/** A short human form of a number of milliseconds, e.g. 90000 -> "1m30s". */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  let seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  seconds -= h * 3600;
  const m = Math.floor(seconds / 60);
  seconds -= m * 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${seconds || (!h && !m) ? `${seconds}s` : ''}`;
}
