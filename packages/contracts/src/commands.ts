import { z } from 'zod';
import { DEVICE_COMMANDS } from './topics.js';

/** `gateway.device.command`: every gateway replica sends `command` to those of `deviceIds` connected to it. */
export const DeviceCommandRequestSchema = z
  .object({
    deviceIds: z
      .array(z.string().regex(/^[0-9a-f]{64}$/))
      .min(1)
      .max(10_000),
    command: z.enum(DEVICE_COMMANDS),
  })
  .strict();
export type DeviceCommandRequest = z.infer<typeof DeviceCommandRequestSchema>;
