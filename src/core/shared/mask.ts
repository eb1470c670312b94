// The one secret masker for values Sluice knows to be secret (Secret contents it read): every
// occurrence in a text to be recorded (status, Events, logs, error messages) becomes MASK.
export const MASK = '*****';

/** Values shorter than this are not masked: masking "a" or "1" would shred every message. */
const MIN_LENGTH = 4;

export function maskValues(text: string, values: Iterable<string>): string {
  let out = text;
  // Longest first, so a value that contains another is masked whole.
  const sorted = [...new Set(values)].filter((v) => v.length >= MIN_LENGTH).sort((a, b) => b.length - a.length);
  for (const value of sorted) out = out.split(value).join(MASK);
  return out;
}
