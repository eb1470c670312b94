// Cron expressions for GitSync schedules and sync windows, evaluated in UTC at minute
// resolution. The grammar (ranges, steps, names, nicknames such as @daily, L, W and #) is
// node-cron's: we call its parser. node-cron's public API only computes "next run" from the
// wall clock of a running task, and the core is pure (time comes in as an argument), so the
// walk to the next / previous matching minute from a given instant is written here. Day of
// month and day of week must both match (node-cron's rule, unlike Vixie cron's "either").
import { parse, validateDetailed } from 'node-cron';

type Day = number | string;

export interface Cron {
  readonly expression: string;
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

/** Parses a 5-field cron expression; throws an Error with a readable message otherwise. */
export function parseCron(expression: string): Cron {
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
    minutes: asc(parsed.minute),
    hours: asc(parsed.hour),
    daysOfMonth: parsed.dayOfMonth,
    months: new Set(parsed.month),
    daysOfWeek: parsed.dayOfWeek.map((d) => (d === 7 ? 0 : d)),
  };
}

/** A readable error for an invalid expression, or undefined when it is valid. */
export function cronProblem(expression: string): string | undefined {
  try {
    parseCron(expression);
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

function dayMatches(cron: Cron, dayStartMs: number): boolean {
  const d = new Date(dayStartMs);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  return cron.months.has(month) && matchesDayOfMonth(cron.daysOfMonth, year, month, day) && matchesDayOfWeek(cron.daysOfWeek, year, month, day);
}

/** Whether the expression matches the minute that contains `at`. */
export function cronMatches(cron: Cron, at: Date): boolean {
  const ms = at.getTime();
  const dayStart = Math.floor(ms / DAY_MS) * DAY_MS;
  const minuteOfDay = Math.floor((ms - dayStart) / MINUTE_MS);
  return dayMatches(cron, dayStart) && cron.hours.includes(Math.floor(minuteOfDay / 60)) && cron.minutes.includes(minuteOfDay % 60);
}

/** The first matching minute strictly after `after`, or undefined if none within the horizon. */
export function nextCronTime(cron: Cron, after: Date): Date | undefined {
  const afterMinute = Math.floor(after.getTime() / MINUTE_MS) * MINUTE_MS; // candidates must be > after
  let dayStart = Math.floor(afterMinute / DAY_MS) * DAY_MS;
  for (let i = 0; i < HORIZON_DAYS; i++, dayStart += DAY_MS) {
    if (!dayMatches(cron, dayStart)) continue;
    for (const hour of cron.hours) {
      for (const minute of cron.minutes) {
        const t = dayStart + hour * 3_600_000 + minute * MINUTE_MS;
        if (t > afterMinute) return new Date(t);
      }
    }
  }
  return undefined;
}

/** The last matching minute at or before `atOrBefore` and not before `notBefore`, or undefined. */
export function previousCronTime(cron: Cron, atOrBefore: Date, notBefore: Date): Date | undefined {
  const limit = atOrBefore.getTime();
  const floor = notBefore.getTime();
  let dayStart = Math.floor(limit / DAY_MS) * DAY_MS;
  const hoursDesc = [...cron.hours].reverse();
  const minutesDesc = [...cron.minutes].reverse();
  for (let i = 0; i < HORIZON_DAYS && dayStart + DAY_MS > floor; i++, dayStart -= DAY_MS) {
    if (!dayMatches(cron, dayStart)) continue;
    for (const hour of hoursDesc) {
      for (const minute of minutesDesc) {
        const t = dayStart + hour * 3_600_000 + minute * MINUTE_MS;
        if (t <= limit) return t >= floor ? new Date(t) : undefined;
      }
    }
  }
  return undefined;
}
