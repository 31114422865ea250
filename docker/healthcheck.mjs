// Docker HEALTHCHECK for a Rampart service: GET /healthz on HTTP_PORT
// (every service sets it; the chart does). Exit 0 when it answers 200.
const port = Number(process.env.HTTP_PORT);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('healthcheck: HTTP_PORT is not set\n');
  process.exit(1);
}
try {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4_000) });
  process.exit(response.status === 200 ? 0 : 1);
} catch (error) {
  process.stderr.write(`healthcheck: ${error.message}\n`);
  process.exit(1);
}
