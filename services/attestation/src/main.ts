import 'reflect-metadata';
import { runServiceMain } from '@rampart/service-kit';
import { loadAttestationConfig } from './attestation.config.js';
import { startAttestation } from './start-attestation.js';

await runServiceMain('attestation', loadAttestationConfig, startAttestation);
