import { CreateAttestation1732900000000 } from './1732900000000-create-attestation.js';
import { EphemeralNonces1732900000001 } from './1732900000001-ephemeral-nonces.js';

export const attestationMigrations = [CreateAttestation1732900000000, EphemeralNonces1732900000001];
