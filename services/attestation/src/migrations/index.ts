import { CreateAttestation1732900000000 } from './1732900000000-create-attestation.js';
import { EphemeralNonces1732900000001 } from './1732900000001-ephemeral-nonces.js';
import { CaRetiredAt1732900000002 } from './1732900000002-ca-retired-at.js';
import { SpentNonces1732900000003 } from './1732900000003-spent-nonces.js';

export const attestationMigrations = [
  CreateAttestation1732900000000,
  EphemeralNonces1732900000001,
  CaRetiredAt1732900000002,
  SpentNonces1732900000003,
];
