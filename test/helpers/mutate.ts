// Random changes to valid JSON documents, for the fuzz suite: a value somewhere replaced by
// something odd (huge, negative, fractional, wrong type, a duration that is not one), a key
// removed, or a field the schemas know set to such a value.
import fc from 'fast-check';

type Json = unknown;

/** Values that break assumptions: limits of numbers, odd durations and percentages, wrong types. */
export const oddValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom(0, -1, 1, 2, 3, 10, 100, 101, 2 ** 31, 2 ** 53, -(2 ** 31), 1e308, 0.5, -0.5, 1e-9),
  fc.integer({ min: -1000, max: 100_000 }),
  fc.constantFrom(
    '',
    '0',
    '1',
    '-1',
    '0s',
    '1s',
    '-1s',
    '1000h',
    '99999999h',
    '5m',
    '1.5h',
    '100%',
    '150%',
    '-5%',
    '0%',
    'abc',
    '1e309',
    'NaN',
    '2030-01-01T00:00:00Z',
    '1970-01-01T00:00:00Z',
    'x'.repeat(300),
  ),
  fc.constantFrom(true, false, null, [], {}, [1], [{}], { a: 1 }),
  fc.string({ maxLength: 12 }),
);

/** Field names the API knows, set at random places too (so mutations reach optional fields). */
const KNOWN_KEYS = [
  'replicas',
  'setWeight',
  'pause',
  'duration',
  'maxSurge',
  'maxUnavailable',
  'steps',
  'paused',
  'abort',
  'progressDeadlineSeconds',
  'minReadySeconds',
  'scaleDownDelaySeconds',
  'abortScaleDownDelaySeconds',
  'autoPromotionSeconds',
  'autoPromotionEnabled',
  'previewReplicaCount',
  'setCanaryScale',
  'weight',
  'matchTrafficWeight',
  'restartAt',
  'startTime',
  'abortedAt',
  'currentStepIndex',
  'pauseConditions',
  'interval',
  'count',
  'failureLimit',
  'timeout',
  'schedule',
  'syncWindows',
  'timeZone',
  'revisionHistoryLimit',
  'dynamicStableScale',
  'stableRS',
];

function paths(value: Json, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(prefix);
  if (out.length > 2000) return out;
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

function setAt(root: Json, path: Array<string | number>, value: Json | typeof REMOVE): Json {
  if (path.length === 0) return value === REMOVE ? undefined : value;
  const [head, ...rest] = path as [string | number, ...Array<string | number>];
  const copy = (Array.isArray(root) ? [...root] : { ...(root as Record<string, Json>) }) as Record<string | number, Json>;
  if (rest.length === 0 && value === REMOVE) {
    if (Array.isArray(copy)) (copy as Json[]).splice(Number(head), 1);
    else delete copy[head];
  } else copy[head] = setAt(copy[head], rest, value);
  return copy;
}
const REMOVE = Symbol('remove');

/** One to four random changes to `doc`. */
export function mutated(doc: Json): fc.Arbitrary<Json> {
  const all = paths(doc);
  const objects = all.filter((p) => {
    let v: Json = doc;
    for (const k of p) v = (v as Record<string | number, Json>)[k];
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  });
  const change = fc.oneof(
    fc.tuple(fc.constantFrom(...all), oddValue).map(
      ([p, v]) =>
        (d: Json) =>
          setAt(d, p, v),
    ),
    fc.constantFrom(...all).map((p) => (d: Json) => (p.length ? setAt(d, p, REMOVE) : d)),
    fc.tuple(fc.constantFrom(...(objects.length ? objects : [[]])), fc.constantFrom(...KNOWN_KEYS), oddValue).map(
      ([p, k, v]) =>
        (d: Json) =>
          setAt(d, [...p, k], v),
    ),
  );
  return fc.array(change, { minLength: 1, maxLength: 4 }).map((changes) => {
    let d = doc;
    for (const c of changes) {
      try {
        d = c(d);
      } catch {
        // a path an earlier change removed: skip
      }
    }
    return d;
  });
}
