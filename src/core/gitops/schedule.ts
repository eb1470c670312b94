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
import { lastFailureRetryable } from './failures.ts';
import { cronNeverMatches, cronProblem, nextCronTime, openSpanEnd, parseCron, previousCronTime, WorkBudget, WorkBudgetExceeded, type Cron } from './cron.ts';
import { UNKNOWN_TIME_REQUEUE_MS } from '../shared/requeue.ts';

/** Retry delay after a failed attempt (capped by the normal period). */
export const RETRY_AFTER_FAILURE_MS = 60_000;
/** Shortest interval accepted: faster polling only loads the Git server. */
export const MIN_INTERVAL_MS = 10_000;
/** How far ahead a deny window that stays open is followed before "no sync within the next year". */
const WINDOW_HORIZON_MS = 366 * 86_400_000;
/** Work one hop of the search for the next allowed time costs (on top of its cron walks). */
const HOP_COST = 10;
/** Work the check "does this expression ever match?" may spend (once per expression: it is cached). */
const NEVER_CHECK_LIMIT = 200_000;

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
    const problem = cronProblem(spec.schedule, timeZone) ?? neverProblem(spec.schedule);
    if (problem) problems.push(`spec.schedule: ${problem}`);
  }
  (spec.syncWindows ?? []).forEach((w, i) => {
    const problem = cronProblem(w.schedule, timeZone) ?? neverProblem(w.schedule);
    if (problem) problems.push(`spec.syncWindows[${i}].schedule: ${problem}`);
    try {
      if (durationToMs(w.duration) <= 0) problems.push(`spec.syncWindows[${i}].duration: must be longer than 0`);
    } catch (err) {
      problems.push(`spec.syncWindows[${i}].duration: ${(err as Error).message}`);
    }
  });
  return problems;
}

function neverProblem(expression: string): string | undefined {
  try {
    if (cronNeverMatches(parseCron(expression), new WorkBudget(NEVER_CHECK_LIMIT))) {
      return `"${expression}" never matches (day of month and day of week must both match, and the date must exist)`;
    }
  } catch (err) {
    if (err instanceof WorkBudgetExceeded) return `"${expression}" is too costly to evaluate; use a simpler expression`;
    throw err;
  }
  return undefined;
}

/** Whether the window is open at `at` (its latest opening is less than its duration ago). */
function isOpen(w: ParsedWindow, at: Date, budget: WorkBudget): boolean {
  if (w.durationMs <= 0) return false;
  return previousCronTime(w.cron, at, new Date(at.getTime() - w.durationMs + 1), budget) !== undefined;
}

const describeWindow = (w: SyncWindow) => `${w.kind} window "${w.schedule}" (${String(w.duration)})`;

export type WindowVerdict =
  | { allowed: true }
  /** `unresolved`: the windows could not be worked out within the work budget (no sync, as if denied). */
  | { allowed: false; message: string; allowedAt?: Date; unresolved?: true };

type Verdict = { allowed: true } | { allowed: false; why: string; retryAt?: Date };

function verdictAt(windows: ParsedWindow[], at: Date, budget: WorkBudget): Verdict {
  budget.spend(HOP_COST);
  const horizon = new Date(at.getTime() + WINDOW_HORIZON_MS);
  // The deny window that stays closed longest decides (its open span, merging windows that touch).
  let denied: { w: ParsedWindow; end: Date | 'beyond' } | undefined;
  for (const w of windows) {
    if (w.window.kind !== 'deny') continue;
    const end = openSpanEnd(w.cron, w.durationMs, at, horizon, budget);
    if (end === undefined) continue;
    if (!denied || end === 'beyond' || (denied.end !== 'beyond' && end > denied.end)) denied = { w, end };
  }
  if (denied) return { allowed: false, why: `denied by ${describeWindow(denied.w.window)}`, ...(denied.end !== 'beyond' ? { retryAt: denied.end } : {}) };
  const allows = windows.filter((w) => w.window.kind === 'allow');
  if (allows.length === 0 || allows.some((w) => isOpen(w, at, budget))) return { allowed: true };
  const nextStarts = allows.map((w) => nextCronTime(w.cron, at, budget)).filter((d): d is Date => !!d);
  const retryAt = nextStarts.length ? new Date(Math.min(...nextStarts.map((d) => d.getTime()))) : undefined;
  return { allowed: false, why: `outside every allow window (${allows.map((w) => `"${w.window.schedule}"`).join(', ')})`, ...(retryAt ? { retryAt } : {}) };
}

const unresolvedMessage = (budget: WorkBudget) =>
  `Sync windows could not be worked out within ${budget.limit} steps (simplify spec.syncWindows: fewer windows, or longer ones); no sync until they can`;

/** Whether the windows allow a sync at `now`, and if not, why and from when it will be allowed. Bounded by `budget`. */
export function evaluateWindows(windows: ReadonlyArray<SyncWindow> | undefined, now: Date, timeZone?: string, budget = new WorkBudget()): WindowVerdict {
  if (!windows || windows.length === 0) return { allowed: true };
  const parsed = parseWindows(windows, timeZone);
  let first: Verdict;
  try {
    first = verdictAt(parsed, now, budget);
  } catch (err) {
    if (err instanceof WorkBudgetExceeded) return { allowed: false, message: unresolvedMessage(budget), unresolved: true };
    throw err;
  }
  if (first.allowed) return first;
  let allowedAt: Date | undefined;
  try {
    allowedAt = nextAllowedTime(parsed, now, budget, first);
  } catch (err) {
    if (!(err instanceof WorkBudgetExceeded)) throw err;
    return {
      allowed: false,
      message: `Sync ${first.why}; when a window next allows a sync could not be worked out within ${budget.limit} steps`,
      unresolved: true,
    };
  }
  const message = allowedAt ? `Sync ${first.why} until ${allowedAt.toISOString()}` : `Sync ${first.why}; no window allows a sync within the next year`;
  return { allowed: false, message, ...(allowedAt ? { allowedAt } : {}) };
}

/** Hops from one closed stretch to the next until the windows allow a sync; each hop spends from the budget. */
function nextAllowedTime(windows: ParsedWindow[], from: Date, budget: WorkBudget, verdictAtFrom?: Verdict): Date | undefined {
  let at = from;
  for (let v = verdictAtFrom ?? verdictAt(windows, at, budget); ; v = verdictAt(windows, at, budget)) {
    if (v.allowed) return at;
    if (!v.retryAt || v.retryAt.getTime() <= at.getTime()) return undefined;
    at = v.retryAt;
  }
}

/** The first time at or after `from` that the windows allow (undefined if none is found, or not within the budget). */
export function firstAllowedTime(windows: ReadonlyArray<SyncWindow> | undefined, from: Date, timeZone?: string, budget = new WorkBudget()): Date | undefined {
  if (!windows || windows.length === 0) return from;
  try {
    return nextAllowedTime(parseWindows(windows, timeZone), from, budget);
  } catch (err) {
    if (err instanceof WorkBudgetExceeded) return undefined;
    throw err;
  }
}

/** When the next regular sync is due after an attempt at `lastAttempt` (before windows). */
export function calculateNextDue(
  spec: Pick<GitSyncSpec, 'interval' | 'schedule' | 'timeZone'>,
  lastAttempt: Date,
  failed: boolean,
  budget = new WorkBudget(),
): Date {
  let next: Date;
  if (spec.schedule !== undefined) {
    let found: Date | undefined;
    try {
      found = nextCronTime(parseCron(spec.schedule, spec.timeZone), lastAttempt, budget);
    } catch (err) {
      if (!(err instanceof WorkBudgetExceeded)) throw err;
      found = new Date(lastAttempt.getTime() + UNKNOWN_TIME_REQUEUE_MS); // could not be worked out: look again in an hour
    }
    next = found ?? new Date(lastAttempt.getTime() + 365 * 86_400_000);
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
  | { action: 'blocked'; trigger: SyncTrigger; message: string; allowedAt: Date | undefined; unresolved?: true }
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
export function decideSync(input: SyncDecisionInput, budget = new WorkBudget()): SyncDecision {
  const { spec, status, generation, syncRequest, now } = input;
  if (spec.suspend) return { action: 'suspended' };
  let trigger: SyncTrigger | undefined;
  let dueAt: Date | undefined;
  const lastAttempt = status?.lastAttemptTime ? new Date(status.lastAttemptTime) : undefined;
  if (!lastAttempt || Number.isNaN(lastAttempt.getTime())) trigger = 'initial';
  else if (generation !== undefined && status?.observedGeneration !== generation) trigger = 'spec-changed';
  else if (syncRequest !== undefined && syncRequest !== status?.lastHandledSyncRequest) trigger = 'requested';
  else {
    // A retryable failure is tried again soon; a permanent one (Stalled) at the normal time.
    dueAt = calculateNextDue(spec, lastAttempt, lastFailureRetryable(status), budget);
    if (now >= dueAt) trigger = status?.lastError ? 'retry' : 'scheduled';
  }
  if (!trigger) {
    const due = dueAt as Date;
    return { action: 'wait', dueAt: due, nextSyncAt: firstAllowedTime(spec.syncWindows, due, spec.timeZone, budget) };
  }
  const verdict = evaluateWindows(spec.syncWindows, now, spec.timeZone, budget);
  if (!verdict.allowed)
    return { action: 'blocked', trigger, message: verdict.message, allowedAt: verdict.allowedAt, ...(verdict.unresolved ? { unresolved: true } : {}) };
  return { action: 'sync', trigger };
}
