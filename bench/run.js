// make bench runs every benchmark; make bench NAME=<name> runs one. Each
// prints a ratio against a baseline measured in the same run and writes
// reports/bench/<name>.json.
const BENCHMARKS = {
  'gateway-throughput': () => import('./gateway-throughput.js'),
  'telemetry-ingest': () => import('./telemetry-ingest.js'),
  'attestation-throughput': () => import('./attestation-throughput.js'),
  'fleet-scale': () => import('./fleet-scale.js'),
  'failure-ingest': () => import('./failure-ingest.js'),
  rollout: () => import('./rollout.js'),
  'tpm-quote': () => import('./tpm-quote.js'),
};

const wanted = process.argv[2];
if (wanted !== undefined && !(wanted in BENCHMARKS)) {
  process.stderr.write(`unknown benchmark "${wanted}"; choose one of: ${Object.keys(BENCHMARKS).join(', ')}\n`);
  process.exit(2);
}
for (const [name, load] of Object.entries(BENCHMARKS)) {
  if (wanted !== undefined && name !== wanted) continue;
  process.stdout.write(`${name} …\n`);
  await (await load()).run();
}
