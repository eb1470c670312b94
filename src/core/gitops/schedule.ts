// When a GitSync syncs, pure: interval or cron schedule, sync windows, suspend, the
// "sync now" annotation and retries after a failure. Time comes in as an argument.
//
// Window semantics (as Argo CD's): a sync is denied while any deny window is open, and,
// when the GitSync has allow windows, while none of them is open. Deny wins. A window
// opens at each time its cron expression matches and stays open for its duration. Windows
// apply to every sync, including "sync now" and webhook pushes: a denied sync waits, and
// the status says until when. Cron expressions are read in spec.timeZone (default UTC).
import { durationToMs, formatMs } from '../../api/duration.ts';
import { DEFAULT_INTERVAL, type GitSyncSpec, type GitSyncStatus, type SyncWindow } from '../../api/git-sync.ts';
import { cronProblem, nextCronTime, parseCron, previousCronTime, type Cron } from './cron.ts';

/** Retry delay after a failed attempt (capped by the normal period). */
export const RETRY_AFTER_FAILURE_MS = 60_000;
/** Shortest interval accepted: faster polling only loads the Git server. */
export const MIN_INTERVAL_MS = 10_000;
/** How many window hops the search for the next allowed time makes before giving up. */
const MAX_WINDOW_HOPS = 10_000;

interface ParsedWindow {
  window: SyncWindow;
  cron: Cron;
  durationMs: number;
}

function parseWindows(windows: ReadonlyArray<SyncWindow>, timeZone: string | undefined): ParsedWindow[] {
  return windows.map((window) => ({ window, cron: parseCron(window.schedule, timeZone), durationMs: durationToMs(window.duration) }));
}

/** Problems in the timing fields of a spec (cron syntax, durations), as messages a user can act on. */
export function scheduleProblems(spec: Pick<GitSyncSpec, 'interval' | 'schedule' | 'syncWindows' | 'timeout' | 'timeZone'>): string[] {
  const problems: string[] = [];
  let timeZone = spec.timeZone;
  if (timeZone !== undefined) {
    const problem = cronProblem('* * * * *', timeZone);
    if (problem) {
      problems.push(`spec.timeZone: ${problem}`);
      timeZone = undefined;
    }
  }
  if (spec.interval !== undefined && spec.schedule !== undefined) problems.push('spec: set interval or schedule, not both');
  if (spec.interval !== undefined) {
    try {
      if (durationToMs(spec.interval) < MIN_INTERVAL_MS)
        problems.push(`spec.interval: ${String(spec.interval)} is shorter than the minimum ${formatMs(MIN_INTERVAL_MS)}`);
    } catch (err) {
      problems.push(`spec.interval: ${(err as Error).message}`);
    }
  }
  if (spec.timeout !== undefined) {
    try {
      if (durationToMs(spec.timeout) < 1000) problems.push('spec.timeout: must be at least 1s');
    } catch (err) {
      problems.push(`spec.timeout: ${(err as Error).message}`);
    }
  }
  if (spec.schedule !== undefined) {
    const problem = cronProblem(spec.schedule, timeZone);
    if (problem) problems.push(`spec.schedule: ${problem}`);
  }
  (spec.syncWindows ?? []).forEach((w, i) => {
    const problem = cronProblem(w.schedule, timeZone);
    if (problem) problems.push(`spec.syncWindows[${i}].schedule: ${problem}`);
    try {
      if (durationToMs(w.duration) <= 0) problems.push(`spec.syncWindows[${i}].duration: must be longer than 0`);
    } catch (err) {
      problems.push(`spec.syncWindows[${i}].duration: ${(err as Error).message}`);
    }
  });
  return problems;
}

/** Start and end of the window's occurrence that is open at `at`, if one is. */
function openOccurrence(w: ParsedWindow, at: Date): { start: Date; end: Date } | undefined {
  if (w.durationMs <= 0) return undefined;
  // The latest start at or before `at` gives the latest end (durations are equal).
  const start = previousCronTime(w.cron, at, new Date(at.getTime() - w.durationMs + 1));
  if (!start) return undefined;
  const end = new Date(start.getTime() + w.durationMs);
  return end.getTime() > at.getTime() ? { start, end } : undefined;
}

const describeWindow = (w: SyncWindow) => `${w.kind} window "${w.schedule}" (${String(w.duration)})`;

export type WindowVerdict = { allowed: true } | { allowed: false; message: string; allowedAt?: Date };

function verdictAt(windows: ParsedWindow[], at: Date): { allowed: true } | { allowed: false; why: string; retryAt?: Date } {
  const openDeny = windows
    .filter((w) => w.window.kind === 'deny')
    .map((w) => ({ w, open: openOccurrence(w, at) }))
    .filter((x): x is { w: ParsedWindow; open: { start: Date; end: Date } } => !!x.open);
  if (openDeny.length > 0) {
    const last = openDeny.reduce((a, b) => (b.open.end > a.open.end ? b : a));
    return { allowed: false, why: `denied by ${describeWindow(last.w.window)}`, retryAt: last.open.end };
  }
  const allows = windows.filter((w) => w.window.kind === 'allow');
  if (allows.length === 0 || allows.some((w) => openOccurrence(w, at))) return { allowed: true };
  const nextStarts = allows.map((w) => nextCronTime(w.cron, at)).filter((d): d is Date => !!d);
  const retryAt = nextStarts.length ? new Date(Math.min(...nextStarts.map((d) => d.getTime()))) : undefined;
  return { allowed: false, why: `outside every allow window (${allows.map((w) => `"${w.window.schedule}"`).join(', ')})`, ...(retryAt ? { retryAt } : {}) };
}

/** Whether the windows allow a sync at `now`, and if not, why and from when it will be allowed. */
export function evaluateWindows(windows: ReadonlyArray<SyncWindow> | undefined, now: Date, timeZone?: string): WindowVerdict {
  if (!windows || windows.length === 0) return { allowed: true };
  const parsed = parseWindows(windows, timeZone);
  const first = verdictAt(parsed, now);
  if (first.allowed) return first;
  const allowedAt = nextAllowedTime(parsed, now);
  const message = allowedAt ? `Sync ${first.why} until ${allowedAt.toISOString()}` : `Sync ${first.why}; no window allows a sync within the next years`;
  return { allowed: false, message, ...(allowedAt ? { allowedAt } : {}) };
}

function nextAllowedTime(windows: ParsedWindow[], from: Date): Date | undefined {
  let at = from;
  for (let hop = 0; hop < MAX_WINDOW_HOPS; hop++) {
    const v = verdictAt(windows, at);
    if (v.allowed) return at;
    if (!v.retryAt || v.retryAt.getTime() <= at.getTime()) return undefined;
    at = v.retryAt;
  }
  return undefined;
}

/** The first time at or after `from` that the windows allow (or undefined if none is found). */
export function firstAllowedTime(windows: ReadonlyArray<SyncWindow> | undefined, from: Date, timeZone?: string): Date | undefined {
  if (!windows || windows.length === 0) return from;
  return nextAllowedTime(parseWindows(windows, timeZone), from);
}

/** When the next regular sync is due after an attempt at `lastAttempt` (before windows). */
export function calculateNextDue(spec: Pick<GitSyncSpec, 'interval' | 'schedule' | 'timeZone'>, lastAttempt: Date, failed: boolean): Date {
  let next: Date;
  if (spec.schedule !== undefined) {
    next = nextCronTime(parseCron(spec.schedule, spec.timeZone), lastAttempt) ?? new Date(lastAttempt.getTime() + 365 * 86_400_000);
  } else {
    next = new Date(lastAttempt.getTime() + durationToMs(spec.interval ?? DEFAULT_INTERVAL));
  }
  if (failed) {
    const retry = new Date(lastAttempt.getTime() + RETRY_AFTER_FAILURE_MS);
    if (retry < next) next = retry;
  }
  return next;
}

export type SyncTrigger = 'initial' | 'spec-changed' | 'requested' | 'scheduled' | 'retry';

export type SyncDecision =
  | { action: 'suspended' }
  /** Not due yet: come back at dueAt; nextSyncAt is dueAt moved past any denying window. */
  | { action: 'wait'; dueAt: Date; nextSyncAt: Date | undefined }
  /** Due, but a window denies it. */
  | { action: 'blocked'; trigger: SyncTrigger; message: string; allowedAt: Date | undefined }
  | { action: 'sync'; trigger: SyncTrigger };

export interface SyncDecisionInput {
  spec: GitSyncSpec;
  status: GitSyncStatus | undefined;
  generation: number | undefined;
  /** Value of the sync-requested annotation, if set. */
  syncRequest: string | undefined;
  now: Date;
}

/** Decides whether to sync now. The spec must have passed scheduleProblems. */
export function decideSync(input: SyncDecisionInput): SyncDecision {
  const { spec, status, generation, syncRequest, now } = input;
  if (spec.suspend) return { action: 'suspended' };
  let trigger: SyncTrigger | undefined;
  let dueAt: Date | undefined;
  const lastAttempt = status?.lastAttemptTime ? new Date(status.lastAttemptTime) : undefined;
  if (!lastAttempt || Number.isNaN(lastAttempt.getTime())) trigger = 'initial';
  else if (generation !== undefined && status?.observedGeneration !== generation) trigger = 'spec-changed';
  else if (syncRequest !== undefined && syncRequest !== status?.lastHandledSyncRequest) trigger = 'requested';
  else {
    const failed = !!status?.lastError;
    dueAt = calculateNextDue(spec, lastAttempt, failed);
    if (now >= dueAt) trigger = failed ? 'retry' : 'scheduled';
  }
  if (!trigger) {
    const due = dueAt as Date;
    return { action: 'wait', dueAt: due, nextSyncAt: firstAllowedTime(spec.syncWindows, due, spec.timeZone) };
  }
  const verdict = evaluateWindows(spec.syncWindows, now, spec.timeZone);
  if (!verdict.allowed) return { action: 'blocked', trigger, message: verdict.message, allowedAt: verdict.allowedAt };
  return { action: 'sync', trigger };
}
