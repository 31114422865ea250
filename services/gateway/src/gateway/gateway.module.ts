import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { OpsController, RevocationWatcher, TypedBus, systemClock, type ServiceRuntime } from '@rampart/service-kit';
import { AttestationBridge } from './attestation-bridge.js';
import { AttestationGate } from './attestation-gate.js';

import { DeviceCommandRelay } from './device-command-relay.js';
import { GatewayMetrics } from './gateway-metrics.js';
import { MqttGateway, type MqttGatewayOptions } from './mqtt-gateway.js';
import { failureBridge } from './failure-bridge.js';
import { telemetryBridge, type TelemetryStreamSettings } from './telemetry-bridge.js';

/**
 * Closes the gateway when Nest shuts down. On a normal close the start step's undo has already closed it (listeners
 * first, so devices stop sending before the bus drains); this covers a start that failed before that step ran.
 */
@Injectable()
export class GatewayLifecycle implements OnApplicationShutdown {
  constructor(@Inject(MqttGateway) private readonly gateway: MqttGateway) {}

  async onApplicationShutdown(): Promise<void> {
    await this.gateway.close();
  }
}

export interface GatewayModuleOptions {
  readonly runtime: ServiceRuntime;
  readonly gateway: MqttGatewayOptions;
  readonly telemetryStream: TelemetryStreamSettings;
}

@Module({})
export class GatewayModule {
  static forRoot(options: GatewayModuleOptions): DynamicModule {
    const { runtime } = options;
    return {
      module: GatewayModule,
      controllers: [OpsController],
      providers: [
        {
          provide: MqttGateway,
          useFactory: () => {
            const telemetry = telemetryBridge(runtime.bus, systemClock, options.telemetryStream, runtime.observability.tracer);
            // The gauges read the gateway that is created right after them.
            const holder: { gateway?: MqttGateway } = {};
            const metrics = new GatewayMetrics(
              runtime.observability.meter,
              () => holder.gateway?.inFlight ?? 0,
              () => holder.gateway?.waiting ?? 0,
              () => holder.gateway?.connectedClients ?? 0,
            );
            const typed = new TypedBus(runtime.bus);
            const attestation = new AttestationGate(
              options.gateway.limits.attestation,
              new AttestationBridge(typed, runtime.observability.tracer),
              metrics,
              runtime.logger,
              systemClock,
            );
            const revocations = new RevocationWatcher(runtime.bus, typed, runtime.logger, (deviceId) =>
              holder.gateway?.disconnect(deviceId),
            );
            holder.gateway = new MqttGateway(
              options.gateway,
              telemetry,
              failureBridge(runtime.bus, systemClock, options.telemetryStream.batch, runtime.observability.tracer),
              attestation,
              revocations,
              metrics,
              runtime.logger,
              systemClock,
            );
            const commands = new DeviceCommandRelay(runtime.bus, runtime.logger, (deviceIds, command) =>
              holder.gateway === undefined ? 0 : holder.gateway.sendCommand(deviceIds, command),
            );
            holder.gateway.onLifecycle(
              () => commands.start(),
              () => commands.stop(),
            );
            return holder.gateway;
          },
        },
        GatewayLifecycle,
      ],
      exports: [MqttGateway],
    };
  }
}
