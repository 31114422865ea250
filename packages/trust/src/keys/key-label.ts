import { InvalidKeyLabelError } from './key-errors.js';

/** Whose key: the platform's own, or one tenant's. */
export type KeyOwner = 'platform' | { readonly tenant: string };

/** A tenant id as the contracts define it (TENANT_ID_PATTERN); "platform" is reserved for the platform's keys. */
const TENANT = /^[a-z0-9][a-z0-9-]{1,62}$/;
/** What the key is for, e.g. `ca`, `ca-2027`, `tuf-timestamp`. */
const PURPOSE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const LABEL = /^rampart\/([^/]+)\/([^/]+)$/;
const PLATFORM = 'platform';

/**
 * The label a key carries in its store, `rampart/<tenant|platform>/<purpose>`:
 * the one name by which it is found again, and the text an HSM operator sees
 * in the token's object list.
 */
export function keyLabel(owner: KeyOwner, purpose: string): string {
  const ownerSegment = owner === PLATFORM ? PLATFORM : owner.tenant;
  if (owner !== PLATFORM && (owner.tenant === PLATFORM || !TENANT.test(owner.tenant))) {
    throw new InvalidKeyLabelError(`rampart/${owner.tenant}/${purpose}`, `${JSON.stringify(owner.tenant)} is not a tenant id`);
  }
  if (!PURPOSE.test(purpose)) throw new InvalidKeyLabelError(`rampart/${ownerSegment}/${purpose}`, purposeProblem(purpose));
  return checkKeyLabel(`rampart/${ownerSegment}/${purpose}`);
}

function purposeProblem(purpose: string): string {
  return `${JSON.stringify(purpose)} is not a purpose: 1-63 lowercase letters, digits, ".", "_" or "-"`;
}

/** Returns `label` when it has the form `keyLabel` makes; throws InvalidKeyLabelError naming what is wrong otherwise. */
export function checkKeyLabel(label: string): string {
  const match = LABEL.exec(label);
  if (match === null) throw new InvalidKeyLabelError(label, 'a key label reads rampart/<tenant|platform>/<purpose>');
  const [, owner = '', purpose = ''] = match;
  if (owner !== PLATFORM && !TENANT.test(owner)) throw new InvalidKeyLabelError(label, `${JSON.stringify(owner)} is not a tenant id`);
  if (!PURPOSE.test(purpose)) throw new InvalidKeyLabelError(label, purposeProblem(purpose));
  return label;
}
