import { CreateAttestation1732900000000 } from './1732900000000-create-attestation.js';

export const attestationMigrations = [CreateAttestation1732900000000];
