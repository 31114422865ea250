import { readFile } from 'node:fs/promises';
import { createRuntimeFromConfig, startHttpService, type MessageBus, type RunningService, type Logger } from '@rampart/service-kit';
import type { GatewayConfig } from './gateway/gateway.config.js';
import { GatewayModule } from './gateway/gateway.module.js';
import { MqttGateway } from './gateway/mqtt-gateway.js';

export interface RunningGateway extends RunningService {
  readonly gateway: MqttGateway;
  readonly mqttPort: number;
  readonly devPort: number | undefined;
}

/** Starts the gateway: MQTT listeners, the telemetry bridge, and HTTP ops endpoints. */
export async function startGateway(config: GatewayConfig, logger: Logger, sharedBus?: MessageBus): Promise<RunningGateway> {
  const runtime = await createRuntimeFromConfig('gateway', config, logger, sharedBus);
  const [certificatePem, privateKeyPem, manufacturerCaPem, platformCaPem] = await Promise.all([
    readFile(config.mqtt.tlsCertFile, 'utf8'),
    readFile(config.mqtt.tlsKeyFile, 'utf8'),
    readFile(config.mqtt.manufacturerCaFile, 'utf8'),
    readFile(config.mqtt.platformCaFile, 'utf8'),
  ]);
  const module = GatewayModule.forRoot({
    runtime,
    gateway: {
      mqtt: config.mqtt,
      tls: { certificatePem, privateKeyPem, manufacturerCaPem, platformCaPem, allowedTenants: config.mqtt.allowedTenants },
      devListener: config.devListener,
      limits: config.limits,
    },
    telemetryStream: config.telemetryStream,
  });
  let started: { mqttPort: number; devPort: number | undefined } | undefined;
  const service = await startHttpService({
    runtime,
    module,
    host: config.http.host,
    port: config.http.port,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    configure: () => undefined,
  });
  const gateway = service.app.get(MqttGateway);
  try {
    started = await gateway.start();
  } catch (error) {
    await service.close();
    throw error;
  }
  runtime.readiness.register('mqtt', () => (gateway.listening ? Promise.resolve() : Promise.reject(new Error('MQTT listener closed'))));
  return { ...service, gateway, mqttPort: started.mqttPort, devPort: started.devPort };
}
