import { z } from 'zod';
import { TENANT_ID_PATTERN } from './identity.js';

/** Largest root metadata a device is given (as its update client reads at most for a root). */
export const MAX_ROOT_METADATA_BYTES = 64 * 1024;

/** `updates.root.get`: the tenant's current TUF root; its repository is made first if it has none yet. */
export const UpdateRootRequestSchema = z.object({ tenantId: z.string().regex(TENANT_ID_PATTERN) }).strict();
export type UpdateRootRequest = z.infer<typeof UpdateRootRequestSchema>;

export const UpdateRootReplySchema = z.object({
  /** The root metadata file exactly as the repository serves it (signed JSON), to be pinned by the device. */
  root: z.string().min(1).max(MAX_ROOT_METADATA_BYTES),
});
export type UpdateRootReply = z.infer<typeof UpdateRootReplySchema>;
