import 'reflect-metadata';
import { runServiceMain } from '@rampart/service-kit';
import { attestationDatabase } from './migrations/index.js';
import { loadAttestationConfig } from './attestation.config.js';
import { startAttestation } from './start-attestation.js';

await runServiceMain('attestation', loadAttestationConfig, startAttestation, attestationDatabase);
