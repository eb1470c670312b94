// Bounded texts for the status: a value or message cut to a size the API server always accepts,
// saying how much was left out. Pure.

/** `text` if it has at most `max` characters, else its first `max` and "… N more" (N characters left out). */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // never split a surrogate pair
  return `${text.slice(0, end)}… ${text.length - end} more`;
}
