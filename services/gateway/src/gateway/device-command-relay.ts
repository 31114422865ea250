import { DeviceCommandRequestSchema, Subject, type DeviceCommand } from '@rampart/contracts';
import { decodeJson, type Closable, type Logger, type MessageBus } from '@rampart/service-kit';

/**
 * Platform → device commands (an update to check for): a broadcast reaches
 * every gateway replica, and each sends the command to those of the devices
 * connected to it. A device that is not connected anywhere learns at its
 * next check (it checks after every attestation).
 */
export class DeviceCommandRelay {
  private subscription: Closable | undefined;

  constructor(
    private readonly bus: MessageBus,
    private readonly logger: Logger,
    private readonly send: (deviceIds: readonly string[], command: DeviceCommand) => number,
  ) {}

  async start(): Promise<void> {
    this.subscription = await this.bus.listen(Subject.gatewayDeviceCommand, (data) => {
      let request;
      try {
        request = DeviceCommandRequestSchema.parse(decodeJson(data));
      } catch (error) {
        this.logger.warn({ err: error }, 'malformed device command ignored');
        return;
      }
      const sent = this.send(request.deviceIds, request.command);
      if (sent > 0) this.logger.debug({ command: request.command, sent }, 'device command sent');
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    this.subscription = undefined;
  }
}
