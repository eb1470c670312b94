// `kubectl sluice status NAME`: one line (or, with -o json, one JSON object) per change of a
// Rollout's state, and the outcome that decides the exit code. The JSON shape is versioned by
// `schema` and documented in docs/plugin.md; fields are only ever added within a version.
import type { Rollout } from '../../api/rollout.ts';
import type { KubeObject } from '../../ports/kube.ts';
import { EXIT, type ExitCode } from '../io.ts';
import { humanDuration, isoSeconds, orDash } from './format.ts';
import type { Style } from './style.ts';

export const STATUS_SCHEMA = 'kubectl-sluice/status/v1';

export type StatusResult = 'Healthy' | 'Degraded' | 'Paused' | 'Timeout' | 'Deleted';

export interface StatusEvent {
  schema: typeof STATUS_SCHEMA;
  time: string;
  namespace: string;
  name: string;
  generation: number | null;
  observedGeneration: number | null;
  phase: string;
  message: string;
  /** 1-based, as people count steps; null for blue-green and canaries without steps. */
  step: { number: number; count: number } | null;
  weight: { desired: number | null; actual: number | null };
  revision: { current: string | null; stable: string | null; number: number | null };
  gitRevision: string | null;
  aborted: boolean;
  pauseReasons: string[];
  analysis: { name: string; kind: string; phase: string; message: string | null } | null;
  /** True on the last object only. */
  done: boolean;
  /** On the last object: why the command ended, and its exit code. */
  result?: StatusResult;
  exitCode?: ExitCode;
}

export function statusEvent(obj: KubeObject, now: Date): StatusEvent {
  const rollout = obj as unknown as Rollout;
  const s = rollout.status ?? {};
  const count = rollout.spec?.strategy?.canary?.steps?.length ?? 0;
  return {
    schema: STATUS_SCHEMA,
    time: isoSeconds(now),
    namespace: rollout.metadata?.namespace ?? '',
    name: rollout.metadata?.name ?? '',
    generation: rollout.metadata?.generation ?? null,
    observedGeneration: s.observedGeneration ?? null,
    phase: s.phase ?? 'Unknown',
    message: s.message ?? '',
    step: count > 0 && s.currentStepIndex !== undefined ? { number: Math.min(s.currentStepIndex + 1, count), count } : null,
    weight: { desired: s.desiredWeight ?? null, actual: s.actualWeight ?? null },
    revision: { current: s.currentPodHash ?? null, stable: s.stableRS ?? null, number: s.currentRevision ?? null },
    gitRevision: s.gitRevision ?? null,
    aborted: s.abort === true,
    pauseReasons: (s.pauseConditions ?? []).map((p) => p.reason),
    analysis: s.analysis ? { name: s.analysis.name, kind: s.analysis.kind, phase: s.analysis.phase, message: s.analysis.message ?? null } : null,
    done: false,
  };
}

/** The fields whose change is worth a line (not the time). */
export function changeKey(e: StatusEvent): string {
  const { time: _time, done: _done, ...rest } = e;
  return JSON.stringify(rest);
}

/**
 * Whether the state is final: Healthy (status for the current generation, the desired revision
 * is the stable one), Degraded (aborted, invalid spec, progress deadline), or Paused when the
 * caller accepts a pause. Anything else goes on.
 */
export function statusOutcome(e: StatusEvent, opts: { successOnPause: boolean }): { result: StatusResult; exitCode: ExitCode } | undefined {
  const current = e.generation === null || (e.observedGeneration !== null && e.observedGeneration >= e.generation);
  if (!current) return undefined;
  if (e.phase === 'Degraded') return { result: 'Degraded', exitCode: EXIT.failed };
  if (e.phase === 'Healthy' && e.revision.current !== null && e.revision.current === e.revision.stable) return { result: 'Healthy', exitCode: EXIT.ok };
  if (e.phase === 'Paused' && opts.successOnPause) return { result: 'Paused', exitCode: EXIT.ok };
  return undefined;
}

export function renderStatusLine(e: StatusEvent, style: Style): string {
  const parts = [e.time, style.phase(e.phase)];
  if (e.step) parts.push(`step ${e.step.number}/${e.step.count}`);
  if (e.weight.desired !== null || e.weight.actual !== null) parts.push(`weight ${orDash(e.weight.desired)}/${orDash(e.weight.actual)}`);
  if (e.observedGeneration !== null && e.generation !== null && e.observedGeneration < e.generation) parts.push(style.dim('(not yet observed)'));
  return `${parts.join('  ')}${e.message ? `  ${e.message}` : ''}\n`;
}

export function renderStatusEnd(e: StatusEvent, result: StatusResult, opts: { timeoutMs?: number }): string {
  const what = `Rollout ${e.namespace}/${e.name}`;
  switch (result) {
    case 'Healthy':
      return `${what} is Healthy on revision ${orDash(e.revision.number)} (${orDash(e.revision.current)})\n`;
    case 'Paused':
      return `${what} is Paused (${e.pauseReasons.join(', ') || 'paused'}), accepted with --success-on-pause\n`;
    case 'Degraded':
      return `${what} is Degraded: ${e.message}\n`;
    case 'Deleted':
      return `${what} was deleted\n`;
    case 'Timeout':
      return `Timed out after ${humanDuration(opts.timeoutMs ?? 0)} waiting for ${what} (last phase ${e.phase}${e.message ? `: ${e.message}` : ''})\n`;
  }
}
