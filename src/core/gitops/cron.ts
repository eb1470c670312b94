// Cron expressions for GitSync schedules and sync windows, evaluated at minute resolution
// in UTC or in an IANA time zone (wall-clock time: "0 9 * * 1-5" in Europe/Berlin is 09:00
// Berlin time, summer and winter). The grammar (ranges, steps, names, nicknames such as @daily, L, W and #) is
// node-cron's: we call its parser. node-cron's public API only computes "next run" from the
// wall clock of a running task, and the core is pure (time comes in as an argument), so the
// walk to the next / previous matching minute from a given instant is written here. Day of
// month and day of week must both match (node-cron's rule, unlike Vixie cron's "either").
// Daylight-saving time: a wall-clock time that does not exist (spring forward) is skipped;
// one that happens twice (fall back) counts once, at its first occurrence.
//
// Bounded work (a GitSync's spec must not be able to hold the event loop):
// - the walks skip months and days that cannot match, and inside a matching day go straight
//   to the right minute (binary search) unless the day has a change of UTC offset;
// - the horizon is one Gregorian cycle (400 years, the calendar then repeats), so a rare
//   date such as Feb 29 on a Monday (2044) is found and a date that never exists is known
//   not to;
// - UTC offsets of a zone are cached per day, with the minute of a change (zones.ts; Intl is the
//   expensive part);
// - every walk spends from a WorkBudget and throws WorkBudgetExceeded past its limit, which
//   the callers turn into a clear status instead of working on.
import { parse, validateDetailed } from 'node-cron';
import { floorDay, floorMinute, formatterFor, fromWall, offsetAt, SHIFT_MARGIN_MS, steadyOffset, toWall } from './zones.ts';

type Day = number | string;

export interface Cron {
  readonly expression: string;
  /** IANA time zone the expression is read in; undefined = UTC. */
  readonly timeZone: string | undefined;
  readonly minutes: readonly number[]; // ascending
  readonly hours: readonly number[]; // ascending
  readonly daysOfMonth: readonly Day[];
  readonly months: ReadonlySet<number>; // 1-12
  readonly daysOfWeek: readonly Day[]; // 0-6, Sunday = 0, or tokens like "1#2", "5L"
  /** The matching minutes of a matching day (hour * 60 + minute), ascending. */
  readonly dayMinutes: readonly number[];
  /** The largest gap between two consecutive dayMinutes, in minutes (0 when there is one). */
  readonly maxGapMinutes: number;
  /** Days of month when they are plain numbers (no L, W): the walks jump between them. */
  readonly numericDays: readonly number[] | undefined;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** The Gregorian calendar repeats every 400 years (146097 days, a whole number of weeks). */
const CYCLE_DAYS = 146_097;
/** Work units (a day or a candidate minute looked at) one evaluation may spend by default. */
export const DEFAULT_WORK_LIMIT = 100_000;

/** Thrown when an evaluation needs more work than its budget allows. */
export class WorkBudgetExceeded extends Error {
  constructor(limit: number) {
    super(`needs more than ${limit} steps of work`);
    this.name = 'WorkBudgetExceeded';
  }
}

/** What one evaluation may spend; tests read `used` to assert bounded work. */
export class WorkBudget {
  used = 0;
  readonly limit: number;
  constructor(limit = DEFAULT_WORK_LIMIT) {
    this.limit = limit;
  }
  spend(units = 1): void {
    this.used += units;
    if (this.used > this.limit) throw new WorkBudgetExceeded(this.limit);
  }
}

const parsedCache = new Map<string, Cron>();
const MAX_PARSED = 1000;

/** Parses a 5-field cron expression (in `timeZone`, default UTC); throws an Error with a readable message otherwise. */
export function parseCron(expression: string, timeZone?: string): Cron {
  const zone = timeZone === undefined || timeZone === 'UTC' || timeZone === 'Etc/UTC' ? undefined : timeZone;
  const key = `${zone ?? ''}\n${expression}`;
  const cached = parsedCache.get(key);
  if (cached) return cached;
  if (zone !== undefined) formatterFor(zone); // throws for an unknown zone
  const trimmed = expression.trim();
  const fields = trimmed.startsWith('@') ? 5 : trimmed.split(/\s+/).length;
  if (fields !== 5) {
    throw new Error(`cron expression "${expression}" has ${fields} fields; use 5 (minute hour day-of-month month day-of-week), e.g. "0 22 * * 5"`);
  }
  const detailed = validateDetailed(trimmed);
  if (!detailed.valid) {
    const why = detailed.errors.map((e) => e.message).join('; ');
    throw new Error(`invalid cron expression "${expression}": ${why}`);
  }
  const parsed = parse(trimmed);
  const asc = (values: Day[]) => [...new Set(values.filter((v): v is number => typeof v === 'number'))].sort((a, b) => a - b);
  const minutes = asc(parsed.minute);
  const hours = asc(parsed.hour);
  const dayMinutes = hours.flatMap((h) => minutes.map((m) => h * 60 + m));
  let maxGapMinutes = 0;
  for (let i = 1; i < dayMinutes.length; i++) maxGapMinutes = Math.max(maxGapMinutes, (dayMinutes[i] as number) - (dayMinutes[i - 1] as number));
  const numeric = parsed.dayOfMonth.every((d) => typeof d === 'number');
  const cron: Cron = {
    expression: trimmed,
    timeZone: zone,
    minutes,
    hours,
    daysOfMonth: parsed.dayOfMonth,
    months: new Set(parsed.month),
    daysOfWeek: parsed.dayOfWeek.map((d) => (d === 7 ? 0 : d)),
    dayMinutes,
    maxGapMinutes,
    numericDays: numeric ? asc(parsed.dayOfMonth) : undefined,
  };
  if (parsedCache.size >= MAX_PARSED) parsedCache.clear();
  parsedCache.set(key, cron);
  return cron;
}

/** A readable error for an invalid expression, or undefined when it is valid. */
export function cronProblem(expression: string, timeZone?: string): string | undefined {
  try {
    parseCron(expression, timeZone);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const neverCache = new Map<string, boolean>();

/**
 * Whether the expression never matches any day (e.g. "0 0 30 2 *", or a day of month and a
 * day of week that never fall together). Exact: it looks at one whole 400-year cycle.
 */
export function cronNeverMatches(cron: Cron, budget = new WorkBudget()): boolean {
  const key = `${cron.expression}`;
  const known = neverCache.get(key);
  if (known !== undefined) return known;
  const start = Date.UTC(2000, 0, 1);
  const never = nextMatchingDay(cron, start, start + CYCLE_DAYS * DAY_MS, budget) === undefined;
  if (neverCache.size >= MAX_PARSED) neverCache.clear();
  neverCache.set(key, never);
  return never;
}

const lastDayOfMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
const weekdayOf = (year: number, month: number, day: number) => new Date(Date.UTC(year, month - 1, day)).getUTCDay();

function nearestWeekday(year: number, month: number, target: number): number {
  const last = lastDayOfMonth(year, month);
  if (target < 1 || target > last) return -1;
  const weekday = weekdayOf(year, month, target);
  if (weekday === 6) return target === 1 ? target + 2 : target - 1;
  if (weekday === 0) return target === last ? target - 2 : target + 1;
  return target;
}

function matchesDayOfMonth(values: readonly Day[], year: number, month: number, day: number): boolean {
  const last = lastDayOfMonth(year, month);
  for (const value of values) {
    if (value === day) return true;
    if (typeof value !== 'string') continue;
    if (value === 'L' && day === last) return true;
    const weekday = /^(L|\d+)W$/.exec(value);
    if (weekday && nearestWeekday(year, month, weekday[1] === 'L' ? last : Number(weekday[1])) === day) return true;
    const offset = /^L-(\d+)$/.exec(value);
    if (offset && last - Number(offset[1]) === day) return true;
  }
  return false;
}

function matchesDayOfWeek(values: readonly Day[], year: number, month: number, day: number): boolean {
  const weekday = weekdayOf(year, month, day);
  for (const value of values) {
    if (value === weekday) return true;
    if (typeof value !== 'string') continue;
    const nth = /^([0-7])#([1-5])$/.exec(value);
    if (nth && Number(nth[1]) % 7 === weekday && Math.floor((day - 1) / 7) + 1 === Number(nth[2])) return true;
    const lastOf = /^([0-7])L$/i.exec(value);
    if (lastOf && Number(lastOf[1]) % 7 === weekday && day + 7 > lastDayOfMonth(year, month)) return true;
  }
  return false;
}

function dayMatches(cron: Cron, dayStartMs: number): boolean {
  const d = new Date(dayStartMs);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  return cron.months.has(month) && matchesDayOfMonth(cron.daysOfMonth, year, month, day) && matchesDayOfWeek(cron.daysOfWeek, year, month, day);
}

/** The first wall day at or after `from` (and not after `limit`) whose date matches, skipping months and listed days. */
function nextMatchingDay(cron: Cron, from: number, limit: number, budget: WorkBudget): number | undefined {
  let day = from;
  while (day <= limit) {
    budget.spend();
    const d = new Date(day);
    const year = d.getUTCFullYear();
    const month = d.getUTCMonth() + 1;
    if (!cron.months.has(month)) {
      day = Date.UTC(year, month, 1); // the first of the next month
      continue;
    }
    if (cron.numericDays) {
      const date = d.getUTCDate();
      const next = cron.numericDays.find((n) => n >= date && n <= lastDayOfMonth(year, month));
      if (next === undefined) {
        day = Date.UTC(year, month, 1);
        continue;
      }
      day = Date.UTC(year, month - 1, next);
      if (day > limit) return undefined;
    }
    if (dayMatches(cron, day)) return day;
    day += DAY_MS;
  }
  return undefined;
}

/** The last wall day at or before `from` (and not before `limit`) whose date matches. */
function previousMatchingDay(cron: Cron, from: number, limit: number, budget: WorkBudget): number | undefined {
  let day = from;
  while (day >= limit) {
    budget.spend();
    const d = new Date(day);
    const year = d.getUTCFullYear();
    const month = d.getUTCMonth() + 1;
    if (!cron.months.has(month)) {
      day = Date.UTC(year, month - 1, 0); // the last day of the previous month
      continue;
    }
    if (cron.numericDays) {
      const date = d.getUTCDate();
      const previous = cron.numericDays.findLast((n) => n <= date && n <= lastDayOfMonth(year, month));
      if (previous === undefined) {
        day = Date.UTC(year, month - 1, 0);
        continue;
      }
      day = Date.UTC(year, month - 1, previous);
      if (day < limit) return undefined;
    }
    if (dayMatches(cron, day)) return day;
    day -= DAY_MS;
  }
  return undefined;
}

/** Index of the first element >= value. */
function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first matching instant of a matching wall day that is after `afterMs`. */
function firstInDayAfter(cron: Cron, dayStart: number, afterMs: number, budget: WorkBudget): number | undefined {
  const minutes = cron.dayMinutes;
  budget.spend();
  const offset = steadyOffset(dayStart, cron.timeZone);
  if (offset !== undefined) {
    const i = lowerBound(minutes, Math.floor((afterMs + offset - dayStart) / MINUTE_MS) + 1);
    return i < minutes.length ? dayStart + (minutes[i] as number) * MINUTE_MS - offset : undefined;
  }
  // A day with a change of offset: from a little before the answer, minute by minute.
  const from = Math.floor((toWall(afterMs, cron.timeZone) - dayStart - SHIFT_MARGIN_MS) / MINUTE_MS);
  for (let i = lowerBound(minutes, from); i < minutes.length; i++) {
    budget.spend();
    const t = fromWall(dayStart + (minutes[i] as number) * MINUTE_MS, cron.timeZone);
    if (t !== undefined && t > afterMs) return t;
  }
  return undefined;
}

/** The last matching instant of a matching wall day that is at or before `limitMs`. */
function lastInDayAtOrBefore(cron: Cron, dayStart: number, limitMs: number, budget: WorkBudget): number | undefined {
  const minutes = cron.dayMinutes;
  budget.spend();
  const offset = steadyOffset(dayStart, cron.timeZone);
  if (offset !== undefined) {
    const i = lowerBound(minutes, Math.floor((limitMs + offset - dayStart) / MINUTE_MS) + 1) - 1;
    return i >= 0 ? dayStart + (minutes[i] as number) * MINUTE_MS - offset : undefined;
  }
  const to = Math.floor((toWall(limitMs, cron.timeZone) - dayStart + SHIFT_MARGIN_MS) / MINUTE_MS);
  for (let i = lowerBound(minutes, to + 1) - 1; i >= 0; i--) {
    budget.spend();
    const t = fromWall(dayStart + (minutes[i] as number) * MINUTE_MS, cron.timeZone);
    if (t !== undefined && t <= limitMs) return t;
  }
  return undefined;
}

/** Whether the expression matches the minute that contains `at`. */
export function cronMatches(cron: Cron, at: Date): boolean {
  const wall = toWall(at.getTime(), cron.timeZone);
  const dayStart = floorDay(wall);
  const minuteOfDay = Math.floor((wall - dayStart) / MINUTE_MS);
  return dayMatches(cron, dayStart) && cron.hours.includes(Math.floor(minuteOfDay / 60)) && cron.minutes.includes(minuteOfDay % 60);
}

/** The first matching minute strictly after `after`, or undefined if the expression never matches. */
export function nextCronTime(cron: Cron, after: Date, budget = new WorkBudget()): Date | undefined {
  const afterMinute = floorMinute(after.getTime()); // candidates must be > after
  // Around a change of offset, start a day early: the wall-clock day of `after` may begin before it.
  const wallDay = floorDay(toWall(afterMinute, cron.timeZone));
  let day = wallDay - (steadyOffset(wallDay, cron.timeZone) === undefined ? DAY_MS : 0);
  const lastDay = day + (CYCLE_DAYS + 2) * DAY_MS;
  while (day <= lastDay) {
    const match = nextMatchingDay(cron, day, lastDay, budget);
    if (match === undefined) return undefined;
    const t = firstInDayAfter(cron, match, afterMinute, budget);
    if (t !== undefined) return new Date(t);
    day = match + DAY_MS;
  }
  return undefined;
}

/** The last matching minute at or before `atOrBefore` and not before `notBefore`, or undefined. */
export function previousCronTime(cron: Cron, atOrBefore: Date, notBefore: Date, budget = new WorkBudget()): Date | undefined {
  const limit = atOrBefore.getTime();
  const floor = notBefore.getTime();
  const wallDay = floorDay(toWall(limit, cron.timeZone));
  let day = wallDay + (steadyOffset(wallDay, cron.timeZone) === undefined ? DAY_MS : 0);
  const floorWallDay = floorDay(toWall(floor, cron.timeZone));
  const floorDayStart = Math.max(floorWallDay - (steadyOffset(floorWallDay, cron.timeZone) === undefined ? DAY_MS : 0), day - (CYCLE_DAYS + 2) * DAY_MS);
  while (day >= floorDayStart) {
    const match = previousMatchingDay(cron, day, floorDayStart, budget);
    if (match === undefined) return undefined;
    const t = lastInDayAtOrBefore(cron, match, limit, budget);
    if (t !== undefined) return t >= floor ? new Date(t) : undefined;
    day = match - DAY_MS;
  }
  return undefined;
}

/**
 * The instant of a matching wall day's last match when windows of `durationMs` bridge every
 * gap between its matches, else undefined. On a day with a change of offset a spring forward
 * only shortens gaps (skipped wall times lie in the lost stretch); a fall back lengthens the
 * gap after the repeated stretch by the shift (a wall time counts at its first occurrence).
 */
function bridgedDayEnd(cron: Cron, dayStart: number, durationMs: number): number | undefined {
  const gapMs = cron.maxGapMinutes * MINUTE_MS;
  const lastWall = dayStart + (cron.dayMinutes[cron.dayMinutes.length - 1] as number) * MINUTE_MS;
  const offset = steadyOffset(dayStart, cron.timeZone);
  if (offset !== undefined) return durationMs >= gapMs ? lastWall - offset : undefined;
  const zone = cron.timeZone as string;
  const before = offsetAt(dayStart - offsetAt(dayStart, zone) - SHIFT_MARGIN_MS, zone);
  const after = offsetAt(dayStart + DAY_MS - offsetAt(dayStart + DAY_MS, zone) + SHIFT_MARGIN_MS, zone);
  if (durationMs < gapMs + Math.max(0, before - after)) return undefined;
  return fromWall(lastWall, zone); // undefined when that wall time is skipped: walked minute by minute
}

/**
 * A window opens at each match of `cron` and stays open `durationMs`; windows that overlap
 * or touch make one span. Returns when the span open at `at` ends, undefined when none is
 * open, or 'beyond' when it is still open at `horizon`. Whole runs of matches are skipped
 * at once where they bridge (an every-minute window over office hours is one step a day).
 */
export function openSpanEnd(cron: Cron, durationMs: number, at: Date, horizon: Date, budget: WorkBudget): Date | 'beyond' | undefined {
  if (durationMs <= 0) return undefined;
  const first = previousCronTime(cron, at, new Date(at.getTime() - durationMs + 1), budget);
  if (!first) return undefined;
  let last = first.getTime();
  let end = last + durationMs;
  if (end <= at.getTime()) return undefined;
  const minutes = cron.dayMinutes;
  for (;;) {
    if (end > horizon.getTime()) return 'beyond';
    // The rest of `last`'s wall day.
    const dayStart = floorDay(toWall(last, cron.timeZone));
    budget.spend();
    const lastOfDay = bridgedDayEnd(cron, dayStart, durationMs);
    if (lastOfDay !== undefined) {
      // Every gap of the day is bridged: the span reaches the day's last match.
      last = Math.max(last, lastOfDay);
      end = last + durationMs;
    } else {
      const from = Math.floor((toWall(last, cron.timeZone) - dayStart) / MINUTE_MS);
      for (let i = lowerBound(minutes, from + 1); i < minutes.length; i++) {
        budget.spend();
        const t = fromWall(dayStart + (minutes[i] as number) * MINUTE_MS, cron.timeZone);
        if (t === undefined || t <= last) continue;
        if (t > end) return new Date(end);
        last = t;
        end = t + durationMs;
      }
    }
    if (end > horizon.getTime()) return 'beyond';
    const next = nextCronTime(cron, new Date(last), budget);
    if (!next || next.getTime() > end) return new Date(end);
    last = next.getTime();
    end = last + durationMs;
  }
}
