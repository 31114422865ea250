import { readFile } from 'node:fs/promises';
import { Inject, Injectable } from '@nestjs/common';
import { READINESS, defineService, type Logger, type MessageBus, type Readiness, type RunningService } from '@rampart/service-kit';
import { loadGatewayConfig, type GatewayConfig } from './gateway/gateway.config.js';
import { GatewayModule } from './gateway/gateway.module.js';
import { MqttGateway } from './gateway/mqtt-gateway.js';

export interface RunningGateway extends RunningService {
  readonly gateway: MqttGateway;
  readonly mqttPort: number;
  readonly devPort: number | undefined;
}

/** The MQTT listeners, opened once the ops port is up; the step's undo closes them first on shutdown, before the bus handlers stop. */
@Injectable()
export class MqttListeners {
  private ports: { readonly mqttPort: number; readonly devPort: number | undefined } | undefined;

  constructor(
    @Inject(MqttGateway) private readonly gateway: MqttGateway,
    @Inject(READINESS) private readonly readiness: Readiness,
  ) {}

  async open(): Promise<void> {
    this.ports = await this.gateway.start();
    const gateway = this.gateway;
    this.readiness.register('mqtt', () => (gateway.listening ? Promise.resolve() : Promise.reject(new Error('MQTT listener closed'))));
  }

  get opened(): { readonly mqttPort: number; readonly devPort: number | undefined } {
    if (this.ports === undefined) throw new Error('the MQTT listeners are not open');
    return this.ports;
  }
}

/** The gateway: MQTT listeners, the bridges to the bus, and HTTP ops endpoints (no REST API, so no OpenAPI). */
export const gatewayService = defineService({
  name: 'gateway',
  config: loadGatewayConfig,
  module: async ({ runtime, config }) => {
    // Read before Nest starts: GatewayModule.forRoot takes the PEMs themselves as options, not their paths.
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
    return { ...module, providers: [...(module.providers ?? []), MqttListeners] };
  },
  afterListen: [{ name: 'MQTT listeners', run: (app) => app.get(MqttListeners).open(), undo: (app) => app.get(MqttGateway).close() }],
  expose: (app) => ({ gateway: app.get(MqttGateway), ...app.get(MqttListeners).opened }),
});

/** Starts the gateway: MQTT listeners, the telemetry bridge, and HTTP ops endpoints. */
export function startGateway(config: GatewayConfig, logger: Logger, sharedBus?: MessageBus): Promise<RunningGateway> {
  return gatewayService.start(config, logger, sharedBus);
}
