import 'reflect-metadata';
import { attestationService } from './start-attestation.js';

await attestationService.main();
