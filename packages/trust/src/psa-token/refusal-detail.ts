/** Longest refusal detail kept: enough to name the claim and the rule, never a device's payload. */
export const MAX_DETAIL_CHARS = 160;

// eslint-disable-next-line no-control-regex -- the point is to find them
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * A refusal's detail as it may go to a log: bounded, control characters shown as `?`. Details quote what a device
 * sent (a header label, a text claim, the decoder's message with a duplicate key's hex), and the device chooses how
 * long that is; the log must not.
 */
export function boundedDetail(detail: string, max: number = MAX_DETAIL_CHARS): string {
  const clean = detail.replace(CONTROL_CHARACTERS, '?');
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}
