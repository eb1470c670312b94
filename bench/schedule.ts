// Benchmark (prints figures; not a test): GitSync schedules and sync windows in a time zone.
// For each case: the verdict, the work counted by the budget (steps), the Intl offset lookups
// (first evaluation, then again with the cache warm) and the wall time of one evaluation.
//   node bench/schedule.ts
import { performance } from 'node:perf_hooks';
import type { SyncWindow } from '../src/api/git-sync.ts';
import { WorkBudget } from '../src/core/gitops/cron.ts';
import { zoneLookups } from '../src/core/gitops/zones.ts';
import { calculateNextDue, evaluateWindows } from '../src/core/gitops/schedule.ts';

const now = new Date('2025-06-02T10:00:00Z'); // a Monday
const cases: Array<[string, SyncWindow[], string]> = [
  ['deny "* 9-17 * * 1-5" 1m', [{ kind: 'deny', schedule: '* 9-17 * * 1-5', duration: '1m' }], 'Europe/Berlin'],
  ['deny "*/5 * * * *" 5m (touching)', [{ kind: 'deny', schedule: '*/5 * * * *', duration: '5m' }], 'Europe/Berlin'],
  ['deny "*/5 * * * *" 1m', [{ kind: 'deny', schedule: '*/5 * * * *', duration: '1m' }], 'Europe/Berlin'],
  ['deny "* * * * *" 1m, no DST: never closes', [{ kind: 'deny', schedule: '* * * * *', duration: '1m' }], 'Asia/Kolkata'],
  [
    'allow "0 9 * * 1-5" 8h + deny "0 12 * * *" 1h',
    [
      { kind: 'allow', schedule: '0 9 * * 1-5', duration: '8h' },
      { kind: 'deny', schedule: '0 12 * * *', duration: '1h' },
    ],
    'America/New_York',
  ],
  ['allow "0 0 29 2 1" 1h (2044)', [{ kind: 'allow', schedule: '0 0 29 2 1', duration: '1h' }], 'Europe/Berlin'],
];

const rows: string[][] = [['case', 'zone', 'verdict', 'steps', 'lookups (cold/warm)', 'ms (cold/warm)']];
for (const [name, windows, zone] of cases) {
  const runs: Array<{ steps: number; lookups: number; ms: number; verdict: string }> = [];
  for (let i = 0; i < 2; i++) {
    const budget = new WorkBudget();
    const lookups = zoneLookups();
    const t = performance.now();
    const v = evaluateWindows(windows, now, zone, budget);
    const ms = performance.now() - t;
    const verdict = v.allowed ? 'allowed' : v.unresolved ? 'unresolved' : `denied until ${v.allowedAt?.toISOString() ?? 'beyond the horizon'}`;
    runs.push({ steps: budget.used, lookups: zoneLookups() - lookups, ms, verdict });
  }
  const [cold, warm] = runs as [(typeof runs)[0], (typeof runs)[0]];
  rows.push([name, zone, cold.verdict, String(cold.steps), `${cold.lookups}/${warm.lookups}`, `${cold.ms.toFixed(2)}/${warm.ms.toFixed(2)}`]);
}
{
  const budget = new WorkBudget();
  const t = performance.now();
  const due = calculateNextDue({ schedule: '*/5 * * * *', timeZone: 'Europe/Berlin' }, now, false, budget);
  rows.push(['schedule "*/5 * * * *" next due', 'Europe/Berlin', due.toISOString(), String(budget.used), '-', (performance.now() - t).toFixed(2)]);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
