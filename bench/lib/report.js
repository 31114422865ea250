import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Writes reports/bench/<name>.json as {name, value, unit, baseline,
 * baseline_value, ratio, ...detail} and prints the ratio line.
 * @param {{name: string, value: number, unit: string, baseline: string, baseline_value: number, [key: string]: unknown}} result
 */
export async function writeReport(result) {
  const ratio = result.baseline_value > 0 ? Math.round((result.value / result.baseline_value) * 1000) / 1000 : null;
  const report = { ...result, ratio };
  const path = join(REPO_ROOT, 'reports', 'bench', `${result.name}.json`);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(
    `${result.name}: ${result.value} ${result.unit} vs ${result.baseline} ${result.baseline_value} ${result.unit} → ratio ${ratio}\n  (${path})\n`,
  );
  return report;
}
