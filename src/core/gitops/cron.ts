// Cron expressions for GitSync schedules and sync windows, evaluated at minute resolution
// in UTC or in an IANA time zone (wall-clock time: "0 9 * * 1-5" in Europe/Berlin is 09:00
// Berlin time, summer and winter). The grammar (ranges, steps, names, nicknames such as @daily, L, W and #) is
// node-cron's: we call its parser. node-cron's public API only computes "next run" from the
// wall clock of a running task, and the core is pure (time comes in as an argument), so the
// walk to the next / previous matching minute from a given instant is written here. Day of
// month and day of week must both match (node-cron's rule, unlike Vixie cron's "either").
// Daylight-saving time: a wall-clock time that does not exist (spring forward) is skipped;
// one that happens twice (fall back) counts once, at its first occurrence.
import { parse, validateDetailed } from 'node-cron';

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
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** How far the walks look: a few years covers every expression that can ever match (e.g. Feb 29). */
const HORIZON_DAYS = 366 * 8;

/** Parses a 5-field cron expression (in `timeZone`, default UTC); throws an Error with a readable message otherwise. */
export function parseCron(expression: string, timeZone?: string): Cron {
  const zone = timeZone === undefined || timeZone === 'UTC' || timeZone === 'Etc/UTC' ? undefined : timeZone;
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
  const asc = (values: Day[]) => values.filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
  return {
    expression: trimmed,
    timeZone: zone,
    minutes: asc(parsed.minute),
    hours: asc(parsed.hour),
    daysOfMonth: parsed.dayOfMonth,
    months: new Set(parsed.month),
    daysOfWeek: parsed.dayOfWeek.map((d) => (d === 7 ? 0 : d)),
  };
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

// ---------------------------------------------------------------------------------------
// Wall-clock time. A "wall" value is the local date and time written as if it were UTC
// milliseconds (so Date.UTC arithmetic walks the local calendar).

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new Error(`unknown time zone "${timeZone}": use an IANA name such as Europe/Berlin or America/New_York`);
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock time (as UTC-style ms, whole minutes) of an instant. */
export function toWall(instantMs: number, timeZone: string | undefined): number {
  const minute = Math.floor(instantMs / MINUTE_MS) * MINUTE_MS;
  if (timeZone === undefined) return minute;
  const parts: Record<string, number> = {};
  for (const p of formatterFor(timeZone).formatToParts(new Date(minute))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return Date.UTC(parts.year as number, (parts.month as number) - 1, parts.day as number, parts.hour as number, parts.minute as number);
}

/** The instant a wall-clock minute happens at, or undefined if it does not exist (DST gap). */
function fromWall(wallMs: number, timeZone: string | undefined): number | undefined {
  if (timeZone === undefined) return wallMs;
  // Offsets are at most a day; try the offsets around the guess, earliest instant first.
  const offset1 = toWall(wallMs, timeZone) - wallMs;
  const candidates = [wallMs - offset1];
  const offset2 = toWall(wallMs - offset1, timeZone) - (wallMs - offset1);
  candidates.push(wallMs - offset2);
  const valid = candidates.filter((t) => toWall(t, timeZone) === wallMs).sort((a, b) => a - b);
  if (valid.length === 0) return undefined;
  const first = valid[0] as number;
  // Fall back: the same wall time an hour (or the DST delta) earlier is the first occurrence.
  for (const delta of [3_600_000, 1_800_000]) if (toWall(first - delta, timeZone) === wallMs) return first - delta;
  return first;
}

function dayMatches(cron: Cron, dayStartMs: number): boolean {
  const d = new Date(dayStartMs);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  return cron.months.has(month) && matchesDayOfMonth(cron.daysOfMonth, year, month, day) && matchesDayOfWeek(cron.daysOfWeek, year, month, day);
}

/** Whether the expression matches the minute that contains `at`. */
export function cronMatches(cron: Cron, at: Date): boolean {
  const wall = toWall(at.getTime(), cron.timeZone);
  const dayStart = Math.floor(wall / DAY_MS) * DAY_MS;
  const minuteOfDay = Math.floor((wall - dayStart) / MINUTE_MS);
  return dayMatches(cron, dayStart) && cron.hours.includes(Math.floor(minuteOfDay / 60)) && cron.minutes.includes(minuteOfDay % 60);
}

/** The first matching minute strictly after `after`, or undefined if none within the horizon. */
export function nextCronTime(cron: Cron, after: Date): Date | undefined {
  const afterMinute = Math.floor(after.getTime() / MINUTE_MS) * MINUTE_MS; // candidates must be > after
  // Start a day early: with a time zone, the wall-clock day of `after` may begin before it.
  let dayStart = Math.floor(toWall(afterMinute, cron.timeZone) / DAY_MS) * DAY_MS - (cron.timeZone ? DAY_MS : 0);
  for (let i = 0; i < HORIZON_DAYS; i++, dayStart += DAY_MS) {
    if (!dayMatches(cron, dayStart)) continue;
    for (const hour of cron.hours) {
      for (const minute of cron.minutes) {
        const t = fromWall(dayStart + hour * 3_600_000 + minute * MINUTE_MS, cron.timeZone);
        if (t !== undefined && t > afterMinute) return new Date(t);
      }
    }
  }
  return undefined;
}

/** The last matching minute at or before `atOrBefore` and not before `notBefore`, or undefined. */
export function previousCronTime(cron: Cron, atOrBefore: Date, notBefore: Date): Date | undefined {
  const limit = atOrBefore.getTime();
  const floor = notBefore.getTime();
  let dayStart = Math.floor(toWall(limit, cron.timeZone) / DAY_MS) * DAY_MS + (cron.timeZone ? DAY_MS : 0);
  const floorDay = Math.floor(toWall(floor, cron.timeZone) / DAY_MS) * DAY_MS - (cron.timeZone ? DAY_MS : 0);
  const hoursDesc = [...cron.hours].reverse();
  const minutesDesc = [...cron.minutes].reverse();
  for (let i = 0; i < HORIZON_DAYS && dayStart >= floorDay; i++, dayStart -= DAY_MS) {
    if (!dayMatches(cron, dayStart)) continue;
    for (const hour of hoursDesc) {
      for (const minute of minutesDesc) {
        const t = fromWall(dayStart + hour * 3_600_000 + minute * MINUTE_MS, cron.timeZone);
        if (t !== undefined && t <= limit) return t >= floor ? new Date(t) : undefined;
      }
    }
  }
  return undefined;
}
