/** `--waves` shorthand: `10,50,100` is cumulative percent waves; `exp:5x2` five devices, then twice as many each wave. */
export function parseWaves(text: string): { kind: 'percent'; percents: number[] } | { kind: 'exponential'; first: number; factor: number } {
  const exponential = /^exp:(\d+)x(\d+(?:\.\d+)?)$/.exec(text);
  if (exponential !== null) return { kind: 'exponential', first: Number(exponential[1]), factor: Number(exponential[2]) };
  const percents = text.split(',').map((p) => (p.trim() === '' ? NaN : Number(p.trim())));
  if (percents.some((p) => !Number.isFinite(p) || p <= 0 || p > 100))
    throw new Error(`--waves: "${text}" is neither cumulative percents 1–100 (e.g. 1,10,100) nor exp:<first>x<factor> (e.g. exp:5x2)`);
  return { kind: 'percent', percents };
}
