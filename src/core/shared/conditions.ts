// Conditions with Kubernetes semantics: lastTransitionTime changes only when status flips.
// Messages are bounded (a message naming thousands of problems would make the whole status
// too large for the API server to accept).
import type { Condition } from '../../api/meta.ts';
import { truncate } from './truncate.ts';

const MAX_CONDITION_MESSAGE_LENGTH = 4096;

export function setCondition(conditions: Condition[], wanted: Omit<Condition, 'lastTransitionTime' | 'lastUpdateTime'>, now: Date): Condition[] {
  const next = wanted.message === undefined ? wanted : { ...wanted, message: truncate(wanted.message, MAX_CONDITION_MESSAGE_LENGTH) };
  const existing = conditions.find((c) => c.type === next.type);
  const sameAsBefore = existing && existing.status === next.status && existing.reason === next.reason && existing.message === next.message;
  if (sameAsBefore) return conditions;
  const time = now.toISOString();
  const condition: Condition = {
    ...next,
    lastTransitionTime: existing && existing.status === next.status ? (existing.lastTransitionTime ?? time) : time,
    lastUpdateTime: time,
  };
  return [...conditions.filter((c) => c.type !== next.type), condition].sort((a, b) => a.type.localeCompare(b.type));
}

export function removeCondition(conditions: Condition[], type: string): Condition[] {
  return conditions.filter((c) => c.type !== type);
}

export function getCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
