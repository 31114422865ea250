import { createHash, type KeyObject } from 'node:crypto';
import { Tag } from 'cbor2';
import { bytesOf } from './strict-cbor.js';

/** The RFC 9783 profile (§5.1, the baseline profile Trusted Firmware-M implements). */
export const PSA_PROFILE = 'tag:psacertified.org,2023:psa#tfm';

/** Claim keys: EAT (RFC 9711) for nonce, UEID and profile; the PSA claims registered by RFC 9783 §10.1. */
export const PSA_CLAIM = {
  nonce: 10,
  instanceId: 256,
  profile: 265,
  clientId: 2394,
  securityLifecycle: 2395,
  implementationId: 2396,
  bootSeed: 2397,
  certificationReference: 2398,
  softwareComponents: 2399,
  verificationServiceIndicator: 2400,
  /**
   * Rampart's anti-rollback counters (component → security version), a private claim. RFC 9783 defines no place
   * for them (a software component's keys are fixed: RFC 9783 §4.4.1), but EAT says every claim a recipient does
   * not understand is ignored (RFC 9711 §4) and CWT reserves keys below -65536 for private use (RFC 8392 §9.1),
   * so another verifier reads the token unchanged. Trusted Firmware-M does not emit it: a device maker who wants
   * its devices to meet Rampart's anti-rollback floors must add it (its attestation partition's claims). A token
   * without it has no security version for any component, and the verifier refuses it wherever a floor is set
   * (SECURITY_VERSION_BELOW_FLOOR): an unreported counter is never taken to be high enough.
   */
  rampartSecurityVersions: -70_001,
} as const;

/** Software component keys (RFC 9783 §4.4.1). */
export const SW_COMPONENT = { measurementType: 1, measurementValue: 2, version: 4, signerId: 5, measurementDescription: 6 } as const;

/** Security lifecycle major states (RFC 9783 §4.3.1): bits 15:8; bits 7:0 are implementation defined. */
export const PSA_LIFECYCLE = {
  unknown: 0x0000,
  assemblyAndTest: 0x1000,
  psaRotProvisioning: 0x2000,
  secured: 0x3000,
  nonPsaRotDebug: 0x4000,
  recoverablePsaRotDebug: 0x5000,
  decommissioned: 0x6000,
} as const;
export type PsaLifecycleState = keyof typeof PSA_LIFECYCLE;

/** The major state of a lifecycle value, or undefined when it names none. */
export function lifecycleState(value: number): PsaLifecycleState | undefined {
  const major = value & 0xff00;
  return (Object.keys(PSA_LIFECYCLE) as PsaLifecycleState[]).find((state) => PSA_LIFECYCLE[state] === major);
}

/** Bounds Rampart sets where RFC 9783 leaves sizes open, so a hostile token cannot make us hold much. */
export const PSA_LIMITS = { maxComponents: 36, maxText: 64, maxSecurityVersions: 36, maxServiceIndicator: 256 } as const;

export interface PsaSoftwareComponent {
  /** The component's role (RFC 9783 §4.4.1.1); Rampart sends its boot stage name. */
  readonly measurementType?: string;
  readonly measurementValue: Uint8Array;
  readonly version?: string;
  /** Hash of the key that signed the component (RFC 9783 §4.4.1.4). */
  readonly signerId: Uint8Array;
  readonly measurementDescription?: string;
}

export interface PsaClaims {
  /** eat_nonce: the verifier's challenge, 32, 48 or 64 bytes. */
  readonly nonce: Uint8Array;
  /** UEID: 0x01 (RAND) then the 32-byte hash of the IAK public key. */
  readonly instanceId: Uint8Array;
  /** The immutable PSA RoT (32 bytes). */
  readonly implementationId: Uint8Array;
  /** The caller's partition: negative for the non-secure side, positive for the secure side, never 0. */
  readonly clientId: number;
  readonly securityLifecycle: number;
  readonly bootSeed?: Uint8Array;
  readonly certificationReference?: string;
  readonly softwareComponents: readonly PsaSoftwareComponent[];
  readonly verificationServiceIndicator?: string;
  /** Rampart's private claim: anti-rollback counter by component. */
  readonly securityVersions?: Readonly<Record<string, number>>;
}

/** A claim broke an RFC 9783 rule; `claim` names it. */
export class PsaClaimError extends Error {
  override readonly name = 'PsaClaimError';
  constructor(
    readonly claim: string,
    message: string,
  ) {
    super(`${claim}: ${message}`);
  }
}

/**
 * The instance id of an IAK: 0x01 then SHA-256 of the public key as `psa_export_public_key` gives it, the
 * uncompressed point 0x04 ‖ X ‖ Y (RFC 9783 §4.2.1; Trusted Firmware-M hashes the same bytes).
 */
export function instanceIdOf(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.x === undefined || jwk.y === undefined) throw new Error('an IAK is an EC key');
  const point = Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  return Buffer.concat([Buffer.from([0x01]), createHash('sha256').update(point).digest()]);
}

/** The claims map, in the order Trusted Firmware-M writes them. */
export function encodeClaims(claims: PsaClaims): Map<number, unknown> {
  const map = new Map<number, unknown>([
    [PSA_CLAIM.profile, PSA_PROFILE],
    [PSA_CLAIM.clientId, claims.clientId],
    [PSA_CLAIM.securityLifecycle, claims.securityLifecycle],
    [PSA_CLAIM.implementationId, bytesOf(claims.implementationId)],
  ]);
  if (claims.bootSeed !== undefined) map.set(PSA_CLAIM.bootSeed, bytesOf(claims.bootSeed));
  if (claims.certificationReference !== undefined) map.set(PSA_CLAIM.certificationReference, claims.certificationReference);
  map.set(
    PSA_CLAIM.softwareComponents,
    claims.softwareComponents.map((c) => {
      const component = new Map<number, unknown>();
      if (c.measurementType !== undefined) component.set(SW_COMPONENT.measurementType, c.measurementType);
      component.set(SW_COMPONENT.measurementValue, bytesOf(c.measurementValue));
      if (c.version !== undefined) component.set(SW_COMPONENT.version, c.version);
      component.set(SW_COMPONENT.signerId, bytesOf(c.signerId));
      if (c.measurementDescription !== undefined) component.set(SW_COMPONENT.measurementDescription, c.measurementDescription);
      return component;
    }),
  );
  map.set(PSA_CLAIM.nonce, bytesOf(claims.nonce));
  map.set(PSA_CLAIM.instanceId, bytesOf(claims.instanceId));
  if (claims.verificationServiceIndicator !== undefined)
    map.set(PSA_CLAIM.verificationServiceIndicator, claims.verificationServiceIndicator);
  if (claims.securityVersions !== undefined) map.set(PSA_CLAIM.rampartSecurityVersions, new Map(Object.entries(claims.securityVersions)));
  return map;
}

const HASH_SIZES: ReadonlySet<number> = new Set([32, 48, 64]);
/**
 * EAN-13+5, the only form the 2023 profile allows (RFC 9783's psa-certification-reference-type); the bare EAN-13
 * was the legacy profile's, and the legacy profile is refused anyway.
 */
const CERTIFICATION_REFERENCE = /^[0-9]{13}-[0-9]{5}$/;
const COMPONENT_NAME = /^[a-z0-9:-]{1,64}$/;

function bytes(claim: string, value: unknown, sizes: (n: number) => boolean, rule: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new PsaClaimError(claim, 'must be a byte string');
  if (!sizes(value.length)) throw new PsaClaimError(claim, `must be ${rule} (is ${value.length} bytes)`);
  return value;
}

// eslint-disable-next-line no-control-regex -- the point is to find them
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/** Text claims: bounded, no control characters (NUL included: PostgreSQL holds none), well-formed Unicode. */
function text(claim: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new PsaClaimError(claim, `must be a text string of 1 to ${max} characters`);
  }
  if (CONTROL_CHARACTERS.test(value) || !value.isWellFormed()) throw new PsaClaimError(claim, 'control characters or ill-formed Unicode');
  return value;
}

function integer(claim: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new PsaClaimError(claim, `must be an integer in ${min}..${max}`);
  }
  return value;
}

function required(map: ReadonlyMap<unknown, unknown>, key: number, claim: string): unknown {
  const value = map.get(key);
  if (value === undefined) throw new PsaClaimError(claim, 'is mandatory and missing');
  return value;
}

function optional<T>(map: ReadonlyMap<unknown, unknown>, key: number, read: (value: unknown) => T): T | undefined {
  const value = map.get(key);
  return value === undefined ? undefined : read(value);
}

/**
 * Reads a claims set under RFC 9783 §4 and the 2023 profile (§5.1): the mandatory claims (nonce, instance id,
 * profile, implementation id, client id, security lifecycle, software components), each of its type and size,
 * the profile exactly `PSA_PROFILE`, a lifecycle value inside a defined major state, a client id other than 0
 * (§4.1.2), each software component with its measurement value and signer id (hashes of 32, 48 or 64 bytes).
 * Claims it does not know are ignored (RFC 9711 §4); a tagged value anywhere is refused (no PSA claim is tagged).
 */
export function parseClaims(payload: unknown): PsaClaims {
  if (!(payload instanceof Map)) throw new PsaClaimError('claims', 'the payload must be a map');
  const map = payload as ReadonlyMap<unknown, unknown>;
  for (const value of map.values()) if (value instanceof Tag) throw new PsaClaimError('claims', 'tagged claim values are refused');
  const profile = text('profile', required(map, PSA_CLAIM.profile, 'profile'), 256);
  if (profile !== PSA_PROFILE) throw new PsaClaimError('profile', `must be ${PSA_PROFILE}`);
  const nonce = bytes('eat_nonce', required(map, PSA_CLAIM.nonce, 'eat_nonce'), (n) => HASH_SIZES.has(n), '32, 48 or 64 bytes');
  const instanceId = bytes('ueid', required(map, PSA_CLAIM.instanceId, 'ueid'), (n) => n === 33, '33 bytes');
  if (instanceId[0] !== 0x01) throw new PsaClaimError('ueid', 'must be of type RAND (0x01)');
  const implementationId = bytes(
    'psa-implementation-id',
    required(map, PSA_CLAIM.implementationId, 'psa-implementation-id'),
    (n) => n === 32,
    '32 bytes',
  );
  const clientId = integer('psa-client-id', required(map, PSA_CLAIM.clientId, 'psa-client-id'), -0x8000_0000, 0x7fff_ffff);
  if (clientId === 0) throw new PsaClaimError('psa-client-id', 'must not be 0');
  const securityLifecycle = integer(
    'psa-security-lifecycle',
    required(map, PSA_CLAIM.securityLifecycle, 'psa-security-lifecycle'),
    0,
    0xffff,
  );
  if (lifecycleState(securityLifecycle) === undefined) {
    throw new PsaClaimError('psa-security-lifecycle', `0x${securityLifecycle.toString(16)} is in no lifecycle state`);
  }
  const components = required(map, PSA_CLAIM.softwareComponents, 'psa-software-components');
  if (!Array.isArray(components) || components.length === 0 || components.length > PSA_LIMITS.maxComponents) {
    throw new PsaClaimError('psa-software-components', `must be an array of 1 to ${PSA_LIMITS.maxComponents} components`);
  }
  const softwareComponents = components.map((entry: unknown, i): PsaSoftwareComponent => {
    const name = `psa-software-components[${i}]`;
    if (!(entry instanceof Map)) throw new PsaClaimError(name, 'must be a map');
    const c = entry as ReadonlyMap<unknown, unknown>;
    const measurementType = optional(c, SW_COMPONENT.measurementType, (v) => text(`${name}.measurement-type`, v, PSA_LIMITS.maxText));
    const version = optional(c, SW_COMPONENT.version, (v) => text(`${name}.version`, v, PSA_LIMITS.maxText));
    const measurementDescription = optional(c, SW_COMPONENT.measurementDescription, (v) =>
      text(`${name}.measurement-desc`, v, PSA_LIMITS.maxText),
    );
    return {
      ...(measurementType === undefined ? {} : { measurementType }),
      measurementValue: bytes(
        `${name}.measurement-value`,
        required(c, SW_COMPONENT.measurementValue, `${name}.measurement-value`),
        (n) => HASH_SIZES.has(n),
        '32, 48 or 64 bytes',
      ),
      ...(version === undefined ? {} : { version }),
      signerId: bytes(
        `${name}.signer-id`,
        required(c, SW_COMPONENT.signerId, `${name}.signer-id`),
        (n) => HASH_SIZES.has(n),
        '32, 48 or 64 bytes',
      ),
      ...(measurementDescription === undefined ? {} : { measurementDescription }),
    };
  });
  const bootSeed = optional(map, PSA_CLAIM.bootSeed, (v) => bytes('psa-boot-seed', v, (n) => n >= 8 && n <= 32, '8 to 32 bytes'));
  const certificationReference = optional(map, PSA_CLAIM.certificationReference, (v) => {
    const reference = text('psa-certification-reference', v, 19);
    if (!CERTIFICATION_REFERENCE.test(reference))
      throw new PsaClaimError('psa-certification-reference', 'must be EAN-13+5 (13 digits, -, 5 digits)');
    return reference;
  });
  const verificationServiceIndicator = optional(map, PSA_CLAIM.verificationServiceIndicator, (v) =>
    text('psa-verification-service-indicator', v, PSA_LIMITS.maxServiceIndicator),
  );
  const securityVersions = optional(map, PSA_CLAIM.rampartSecurityVersions, (v) => {
    if (!(v instanceof Map) || v.size > PSA_LIMITS.maxSecurityVersions) {
      throw new PsaClaimError('rampart-security-versions', `must be a map of at most ${PSA_LIMITS.maxSecurityVersions} entries`);
    }
    const versions: Record<string, number> = {};
    for (const [component, version] of v as Map<unknown, unknown>) {
      if (typeof component !== 'string' || !COMPONENT_NAME.test(component)) {
        throw new PsaClaimError('rampart-security-versions', 'keys must be component names');
      }
      versions[component] = integer(`rampart-security-versions.${component}`, version, 0, 0xffff);
    }
    return versions;
  });
  return {
    nonce,
    instanceId,
    implementationId,
    clientId,
    securityLifecycle,
    softwareComponents,
    ...(bootSeed === undefined ? {} : { bootSeed }),
    ...(certificationReference === undefined ? {} : { certificationReference }),
    ...(verificationServiceIndicator === undefined ? {} : { verificationServiceIndicator }),
    ...(securityVersions === undefined ? {} : { securityVersions }),
  };
}
