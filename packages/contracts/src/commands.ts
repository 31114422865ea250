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

/** `updates.cohort.devices`: the devices of a device group, or those a deployment drew (all, or one wave). */
export const CohortDevicesRequestSchema = z
  .object({
    tenantId: z.string().min(1).max(64),
    groupId: z.uuid().optional(),
    deploymentId: z.uuid().optional(),
    wave: z.number().int().min(0).max(1_000).optional(),
  })
  .strict()
  .refine((r) => (r.groupId === undefined) !== (r.deploymentId === undefined), { message: 'name a group or a deployment' });
export type CohortDevicesRequest = z.infer<typeof CohortDevicesRequestSchema>;

export const CohortDevicesReplySchema = z.object({
  /** Null when the group or deployment is not this tenant's. */
  deviceIds: z.array(z.string()).nullable(),
});
export type CohortDevicesReply = z.infer<typeof CohortDevicesReplySchema>;
