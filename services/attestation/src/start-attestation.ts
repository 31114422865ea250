import { QueueGroup, Stream } from '@rampart/contracts';
import { defineService, openStream, type Logger, type MessageBus, type RunningService } from '@rampart/service-kit';
import { loadAttestationConfig, type AttestationConfig } from './attestation.config.js';
import { AdmissionLogJob, NonceSweepJob, RotationPolicyJob } from './attestation.jobs.js';
import { AttestationModule, PolicyChangeListener } from './attestation.module.js';
import { RotationService } from './api/rotation.service.js';
import { AttestationRepository } from './attestation/attestation.repository.js';
import { FleetGauges } from './attestation/fleet-gauges.js';
import { KnownGoodConsumer } from './attestation/known-good.consumer.js';
import { TenantAuthorities } from './ca/tenant-authorities.js';
import { attestationDatabase } from './migrations/index.js';

export interface RunningAttestation extends RunningService {
  readonly repository: AttestationRepository;
  readonly authorities: TenantAuthorities;
}

/** The attestation service: tenants, devices, attestation verdicts on the bus, the CAs and their rotation. */
export const attestationService = defineService({
  name: 'attestation',
  config: loadAttestationConfig,
  database: { ...attestationDatabase, connection: (config: AttestationConfig) => config.database },
  module: ({ runtime }) => AttestationModule.forRoot({ runtime }),
  queueGroup: QueueGroup.attestation,
  openApi: { title: 'Rampart attestation', description: 'Tenants, devices, attestation, CA', bearerAuth: true },
  beforeListen: [
    { name: 'attestation stream', run: (_app, { runtime }) => openStream(runtime.bus, Stream.attestation, 'attestation') },
    {
      name: 'policy change listener',
      run: (app) => app.get(PolicyChangeListener).start(),
      undo: (app) => app.get(PolicyChangeListener).stop(),
    },
    {
      name: 'known-good consumer',
      run: (app) => app.get(KnownGoodConsumer).start(),
      undo: (app) => app.get(KnownGoodConsumer).stop(),
    },
    // A successor due while the service was down is made before the first device asks for a certificate (or, while
    // the token is away, as soon as it is back).
    { name: 'CA rotation policy', run: (app) => app.get(RotationService).runPolicyAtStart() },
    { name: 'fleet gauges', run: (app) => app.get(FleetGauges).refresh() },
  ],
  jobs: [AdmissionLogJob, RotationPolicyJob, NonceSweepJob, FleetGauges],
  expose: (app) => ({ repository: app.get(AttestationRepository), authorities: app.get(TenantAuthorities) }),
});

export function startAttestation(config: AttestationConfig, logger: Logger, sharedBus?: MessageBus): Promise<RunningAttestation> {
  return attestationService.start(config, logger, sharedBus);
}
