// Wall-clock time in an IANA time zone, pure (Intl only), for the cron walks (cron.ts).
// A "wall" value is the local date and time written as if it were UTC milliseconds (so
// Date.UTC arithmetic walks the local calendar). UTC offsets come from Intl, which is the
// expensive part: they are cached per zone and UTC day, with the minute of a change.
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

export function formatterFor(timeZone: string): Intl.DateTimeFormat {
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

let zoneLookupCount = 0;

/** How many times a UTC offset was asked of Intl (the cache makes this small); for tests and benchmarks. */
export function zoneLookups(): number {
  return zoneLookupCount;
}

/** The zone's UTC offset (wall minus UTC, ms) at a whole second, from Intl. */
function lookupOffset(secondMs: number, timeZone: string): number {
  zoneLookupCount++;
  const parts: Record<string, number> = {};
  for (const p of formatterFor(timeZone).formatToParts(new Date(secondMs))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const wall = Date.UTC(
    parts.year as number,
    (parts.month as number) - 1,
    parts.day as number,
    parts.hour as number,
    parts.minute as number,
    parts.second as number,
  );
  return wall - secondMs;
}

/**
 * Offsets per zone and UTC day: one number for a day without a change, or the minute the
 * offset changes and the offsets before and after (a zone changes at most once a day). A new
 * day costs one Intl lookup (its end; its start is the day before's end), a day with a
 * change a dozen more (a binary search for the minute).
 */
type DayOffsets = number | { changeAt: number; before: number; after: number };
const offsetCache = new Map<string, { days: Map<number, DayOffsets>; bounds: Map<number, number> }>();
let cachedDays = 0;
const MAX_CACHED_DAYS = 100_000;

function offsetsOfDay(timeZone: string, dayIndex: number): DayOffsets {
  let zone = offsetCache.get(timeZone);
  if (!zone) {
    zone = { days: new Map(), bounds: new Map() };
    offsetCache.set(timeZone, zone);
  }
  const known = zone.days.get(dayIndex);
  if (known !== undefined) return known;
  if (cachedDays >= MAX_CACHED_DAYS) {
    for (const z of offsetCache.values()) {
      z.days.clear();
      z.bounds.clear();
    }
    cachedDays = 0;
  }
  const bound = (index: number) => {
    let o = zone.bounds.get(index);
    if (o === undefined) {
      o = lookupOffset(index * DAY_MS, timeZone);
      zone.bounds.set(index, o);
    }
    return o;
  };
  const before = bound(dayIndex);
  const after = bound(dayIndex + 1);
  let entry: DayOffsets = before;
  if (before !== after) {
    let lo = dayIndex * DAY_MS; // has `before`
    let hi = lo + DAY_MS; // has `after`
    while (hi - lo > MINUTE_MS) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE_MS) * MINUTE_MS;
      if (lookupOffset(mid, timeZone) === before) lo = mid;
      else hi = mid;
    }
    entry = { changeAt: hi, before, after };
  }
  zone.days.set(dayIndex, entry);
  cachedDays++;
  return entry;
}

export function offsetAt(instantMs: number, timeZone: string): number {
  const day = offsetsOfDay(timeZone, Math.floor(instantMs / DAY_MS));
  if (typeof day === 'number') return day;
  return instantMs < day.changeAt ? day.before : day.after;
}

export const floorMinute = (ms: number) => Math.floor(ms / MINUTE_MS) * MINUTE_MS;
export const floorDay = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;

/** The wall-clock time (as UTC-style ms, whole minutes) of an instant. */
export function toWall(instantMs: number, timeZone: string | undefined): number {
  const minute = floorMinute(instantMs);
  if (timeZone === undefined) return minute;
  return floorMinute(minute + offsetAt(minute, timeZone));
}

/** The instant a wall-clock minute happens at, or undefined if it does not exist (DST gap). */
export function fromWall(wallMs: number, timeZone: string | undefined): number | undefined {
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

/** How far around a wall day an offset change could still move its times (the largest DST shift is 2h). */
export const SHIFT_MARGIN_MS = 3 * HOUR_MS;

/**
 * The UTC offset that holds for the whole wall day starting at `dayStart` (and a margin
 * around it), so that its wall minutes map to instants by subtraction; undefined for a day
 * with a change of offset (or an offset of odd seconds), which is walked minute by minute.
 */
export function steadyOffset(dayStart: number, timeZone: string | undefined): number | undefined {
  if (timeZone === undefined) return 0;
  const offset = offsetAt(dayStart - offsetAt(dayStart, timeZone), timeZone);
  if (offset % MINUTE_MS !== 0) return undefined;
  const start = dayStart - offset;
  for (const at of [start - SHIFT_MARGIN_MS, start + DAY_MS / 2, start + DAY_MS + SHIFT_MARGIN_MS]) {
    if (offsetAt(at, timeZone) !== offset) return undefined;
  }
  return offset;
}
