import { BootStageSchema, DEVICE_ID_PATTERN } from '@rampart/contracts';
import { z } from 'zod';

export const TenantCreateBody = z.object({ id: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/), name: z.string().min(1).max(200) }).strict();
/** Longest lifetime a token may be given at creation (a token without one lasts until revoked). */
export const MAX_TOKEN_LIFETIME_SECONDS = 5 * 365 * 24 * 3600;
export const TokenCreateBody = z
  .object({
    role: z.enum(['Administrator', 'Contributor', 'Reader']),
    expiresInSeconds: z.number().int().min(60).max(MAX_TOKEN_LIFETIME_SECONDS).optional(),
  })
  .strict();
export const TokenIdParam = z.uuid();
export const DeviceIdParam = z.string().regex(DEVICE_ID_PATTERN, 'a device id is 64 lowercase hex characters');
export const RevokeBody = z.object({ reason: z.string().min(1).max(500) }).strict();
export const ListQuery = z
  .object({ limit: z.coerce.number().int().min(1).max(1000).default(100), offset: z.coerce.number().int().min(0).default(0) })
  .strict();
export const MeasurementBody = z
  .object({
    stage: BootStageSchema,
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    status: z.enum(['released', 'revoked']),
    imageVersion: z.string().max(64).optional(),
  })
  .strict();
export const FloorBody = z.object({ minVersion: z.number().int().min(0).max(0xffff) }).strict();
export const ComponentParam = z.string().regex(/^[a-z0-9:-]{1,64}$/);
