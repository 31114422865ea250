// A bare Aedes broker (no hooks, no TLS) in its own process: the baseline
// for the gateway throughput benchmark.
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const broker = await Aedes.createBroker({ concurrency: 1000, maxClientsIdLength: 64 });
const server = createServer(broker.handle);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'bare aedes listening', port: server.address().port })}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  broker.close(() => process.exit(0));
});
