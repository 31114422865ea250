/**
 * The machine's randomness as a value: the four words of an sfc32
 * generator. Drawing returns the next state instead of changing one, so a
 * device state that holds it replays exactly; 128 bits of seed keep two
 * devices of a fleet from sharing a stream (their trace IDs come from it).
 */
export type RandomState = readonly [number, number, number, number];

/** A state seeded from four draws of `random` (`Math.random`, or a seeded generator in tests). */
export function seedRandomState(random: () => number): RandomState {
  const word = () => Math.floor(random() * 2 ** 32) >>> 0;
  let state: RandomState = [word(), word(), word(), word()];
  // sfc32 mixes a fresh seed poorly for its first outputs: discard them.
  for (let i = 0; i < 12; i++) state = drawFraction(state).state;
  return state;
}

/** A fraction uniform in [0, 1), and the state after it. */
export function drawFraction(state: RandomState): { readonly fraction: number; readonly state: RandomState } {
  let [a, b, c, d] = state;
  d = (d + 1) | 0;
  const t = (((a + b) | 0) + d) | 0;
  a = b ^ (b >>> 9);
  b = (c + (c << 3)) | 0;
  c = (c << 21) | (c >>> 11);
  c = (c + t) | 0;
  return { fraction: (t >>> 0) / 4294967296, state: [a, b, c, d] };
}
