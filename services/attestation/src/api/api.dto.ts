import { BootStageSchema, Ids, decimalInteger, text } from '@rampart/contracts';
import { z } from 'zod';

export const TenantIdParam = Ids.tenant;
export const TenantCreateBody = z.object({ id: Ids.tenant, name: text({ min: 1, max: 200 }) }).strict();
/** Longest lifetime a token may be given at creation (a token without one lasts until revoked). */
export const MAX_TOKEN_LIFETIME_SECONDS = 5 * 365 * 24 * 3600;
export const TokenCreateBody = z
  .object({
    role: z.enum(['Administrator', 'Contributor', 'Reader']),
    expiresInSeconds: z.number().int().min(60).max(MAX_TOKEN_LIFETIME_SECONDS).optional(),
  })
  .strict();
export const TokenIdParam = z.uuid();
export const DeviceIdParam = Ids.device;
export const RevokeBody = z.object({ reason: text({ min: 1, max: 500, multiline: true }) }).strict();
export const ListQuery = z
  .object({
    limit: decimalInteger({ min: 1, max: 1000 }).default(100),
    offset: decimalInteger({ min: 0, max: 1_000_000_000 }).default(0),
  })
  .strict();
export const MeasurementBody = z
  .object({
    stage: BootStageSchema,
    sha256: Ids.sha256,
    status: z.enum(['released', 'revoked']),
    imageVersion: text({ max: 64 }).optional(),
  })
  .strict();
export const FloorBody = z.object({ minVersion: z.number().int().min(0).max(0xffff) }).strict();
export const ComponentParam = z.string().regex(/^[a-z0-9:-]{1,64}$/);
/** A tenant CA's id (PostgreSQL uuid): checked here so a malformed one is a 400, never a database error. */
export const CaIdParam = z.uuid();
