// Values that come from outside the script (server frames, the page's data-*
// attributes) read without trusting their types, and text counted the way
// the server counts it. Pure functions; every other module may use them.

/** A positive integer from `value`, or `fallback`. */
export function positiveInt(value, fallback) {
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** Frames come from the network: treat every field as possibly missing. */
export function str(value) {
  return typeof value === "string" ? value : "";
}

/** A message id from a frame, or null. */
export function messageId(value) {
  const id = Number(value);
  return Number.isSafeInteger(id) ? id : null;
}

/** Length in Unicode scalar values, which is how the server counts. */
export function charCount(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}
