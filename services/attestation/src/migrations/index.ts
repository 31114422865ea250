import type { ServiceDatabase } from '@rampart/service-kit';
import { CreateAttestation1732900000000 } from './1732900000000-create-attestation.js';
import { EphemeralNonces1732900000001 } from './1732900000001-ephemeral-nonces.js';
import { CaRetiredAt1732900000002 } from './1732900000002-ca-retired-at.js';
import { SpentNonces1732900000003 } from './1732900000003-spent-nonces.js';
import { DeviceOsVersion1732900000004 } from './1732900000004-device-os-version.js';
import { TokenExpiry1732900000005 } from './1732900000005-token-expiry.js';
import { CrlNumbers1732900000008 } from './1732900000008-crl-numbers.js';
import { RecoveryGrants1732900000140 } from './1732900000140-recovery-grants.js';
import { TenantCaKeyLabels1732900000170 } from './1732900000170-tenant-ca-key-labels.js';
import { TenantCaOneNext1732900000180 } from './1732900000180-tenant-ca-one-next.js';
import { VerdictEvidenceKind1732900000190 } from './1732900000190-verdict-evidence-kind.js';

export const attestationMigrations = [
  CreateAttestation1732900000000,
  EphemeralNonces1732900000001,
  CaRetiredAt1732900000002,
  SpentNonces1732900000003,
  DeviceOsVersion1732900000004,
  TokenExpiry1732900000005,
  CrlNumbers1732900000008,
  RecoveryGrants1732900000140,
  TenantCaKeyLabels1732900000170,
  TenantCaOneNext1732900000180,
  VerdictEvidenceKind1732900000190,
];

/** The attestation service's schema and migrations (`attestation migrate` and start-up both bring it up to date). */
export const attestationDatabase: ServiceDatabase = {
  schema: 'attestation',
  migrations: attestationMigrations,
  applicationName: 'rampart-attestation',
};
