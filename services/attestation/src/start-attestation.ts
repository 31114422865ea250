import { readFile } from 'node:fs/promises';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { QueueGroup, Stream, Subject, type TenantCreatedEvent } from '@rampart/contracts';
import {
  closeServiceRuntime,
  createRuntimeFromConfig,
  encodeJson,
  every,
  openDatabase,
  openStream,
  startHttpService,
  systemClock,
  TypedBus,
  type Logger,
  type MessageBus,
  type RunningService,
} from '@rampart/service-kit';
import { CertificateAuthority, certificatesInPemBundle } from '@rampart/trust';
import type { AttestationConfig } from './attestation.config.js';
import { AttestationModule } from './attestation.module.js';
import { RotationService } from './api/rotation.service.js';
import { TenancyService } from './api/tenancy.service.js';
import { AttestationRepository } from './attestation/attestation.repository.js';
import { AttestationService } from './attestation/attestation.service.js';
import { FleetGauges } from './attestation/fleet-gauges.js';
import { EvidenceVerifier } from './attestation/evidence-verifier.js';
import { KnownGoodConsumer } from './attestation/known-good.consumer.js';
import { AttestationBatches } from './attestation/attestation-batches.js';
import { AttestationAdmission } from './attestation/attestation-admission.js';
import { SealedNonceStore } from './attestation/nonce-store.js';
import { PolicyCache } from './attestation/policy-cache.js';
import { KeyVault } from '@rampart/trust';
import { TenantAuthorities } from './ca/tenant-authorities.js';
import { attestationDatabase } from './migrations/index.js';

/** How often the CA rotation policy is checked. */
const ROTATION_CHECK_MS = 6 * 60 * 60 * 1000;
/** How long a claim waits for the tenant's update root from the updates service. */
const UPDATE_ROOT_TIMEOUT_MS = 5_000;
/** How often refused attestation requests are summarised in the log. */
const ADMISSION_LOG_MS = 10_000;
/** How often expired spent nonces are deleted. */
const NONCE_SWEEP_MS = 60_000;

export interface RunningAttestation extends RunningService {
  readonly repository: AttestationRepository;
  readonly authorities: TenantAuthorities;
}

export async function startAttestation(config: AttestationConfig, logger: Logger, sharedBus?: MessageBus): Promise<RunningAttestation> {
  const runtime = await createRuntimeFromConfig('attestation', config, logger, sharedBus);
  let service: RunningService | undefined;
  try {
    const [platformCertificatePem, platformKeyPem, manufacturerBundle] = await Promise.all([
      readFile(config.ca.platformCertFile, 'utf8'),
      readFile(config.ca.platformKeyFile, 'utf8'),
      readFile(config.ca.manufacturerCaFile, 'utf8'),
    ]);
    const manufacturerRoots = certificatesInPemBundle(manufacturerBundle);
    if (manufacturerRoots.length === 0) throw new Error(`MANUFACTURER_CA_FILE holds no certificate: ${config.ca.manufacturerCaFile}`);
    const platform = await CertificateAuthority.load({ certificatePem: platformCertificatePem, privateKeyPem: platformKeyPem });
    runtime.dataSource = await openDatabase(
      {
        url: config.database.url,
        ...attestationDatabase,
        poolSize: config.database.poolSize,
      },
      logger,
    );
    const repository = new AttestationRepository(runtime.dataSource);
    runtime.readiness.register('database', () => repository.ping());
    const authorities = new TenantAuthorities(platform, repository, new KeyVault(config.ca.keyEncryptionKey), config.ca);
    await openStream(runtime.bus, Stream.attestation, 'attestation');
    const batches = new AttestationBatches(repository);
    const policies = new PolicyCache(repository);
    const policyListener = await runtime.bus.listen(Subject.attestationPolicyChanged, () => policies.invalidate());
    const announcePolicyChange = async (): Promise<void> => {
      policies.invalidate();
      await runtime.bus.broadcast(Subject.attestationPolicyChanged, encodeJson({}));
    };
    const attestation = new AttestationService(
      repository,
      new EvidenceVerifier(manufacturerRoots),
      new SealedNonceStore(config.ca.keyEncryptionKey, config.nonceTtlMs, batches),
      batches,
      policies,
      authorities,
      systemClock,
      logger,
      runtime.observability.meter,
      async (event) => {
        await runtime.bus.publishDurable(Subject.attestationVerdictFailed, encodeJson(event), { msgId: event.id });
      },
      runtime.observability.tracer,
    );
    const admission = new AttestationAdmission(config.admission, systemClock, logger, runtime.observability.meter);
    const admissionLog = every(
      ADMISSION_LOG_MS,
      () => Promise.resolve(admission.logSummary()),
      () => undefined,
    );
    const knownGood = new KnownGoodConsumer(runtime.bus, repository, logger, announcePolicyChange);
    await knownGood.start();
    const rotation = new RotationService(repository, authorities, runtime.bus, systemClock, logger);
    await rotation.runPolicy();
    rotation.start(ROTATION_CHECK_MS);
    const nonceSweep = every(
      NONCE_SWEEP_MS,
      async () => {
        const swept = await repository.sweepSpentNonces();
        if (swept > 0) logger.debug({ swept }, 'expired spent nonces deleted');
      },
      (error) => logger.warn({ err: error }, 'spent nonce sweep failed; it runs again'),
    );
    const updatesBus = new TypedBus(runtime.bus);
    const fleetGauges = new FleetGauges(runtime.dataSource, runtime.observability.meter, logger);
    await fleetGauges.start(config.fleetGaugesMs);
    service = await startHttpService({
      runtime,
      module: AttestationModule.forRoot({
        runtime,
        repository,
        attestation,
        admission,
        tenancy: new TenancyService(
          repository,
          authorities,
          (event) => runtime.bus.broadcast(Subject.attestationDeviceRevocation, encodeJson(event)),
          announcePolicyChange,
          async (tenantId) => {
            const event: TenantCreatedEvent = { tenantId };
            // A lost announcement is not the tenant's failure: the update server also makes the repository on a device's first read.
            await runtime.bus
              .publishDurable(Subject.attestationTenantCreated, encodeJson(event), { msgId: `tenant-created:${tenantId}` })
              .catch((error: unknown) => logger.warn({ err: error, tenantId }, 'tenant creation not announced to the updates service'));
          },
          async (tenantId) => {
            try {
              return (await updatesBus.request(Subject.updatesRootGet, { tenantId }, UPDATE_ROOT_TIMEOUT_MS)).root;
            } catch (error) {
              logger.warn({ err: error, tenantId }, 'no update root for the claim: the updates service did not answer');
              return null;
            }
          },
          async (tokenHash) => {
            // A lost broadcast is not the revocation's failure: guards drop the token when their cache ends (≤ 10 s).
            await runtime.bus
              .broadcast(Subject.attestationTokenRevoked, encodeJson({ tokenHash }))
              .catch((error: unknown) =>
                logger.warn({ err: error }, 'token revocation not broadcast; guards drop it when their cache ends'),
              );
          },
        ),
        platformAdminToken: config.platformAdminToken,
        authorities,
        rotation,
      }),
      host: config.http.host,
      port: config.http.port,
      queueGroup: QueueGroup.attestation,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      configure: (app) => {
        const document = SwaggerModule.createDocument(
          app,
          new DocumentBuilder()
            .setTitle('Rampart attestation')
            .setVersion('1')
            .addBearerAuth()
            .setDescription('Tenants, devices, attestation, CA')
            .build(),
        );
        SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
      },
    });
    const running = service;
    return {
      ...service,
      repository,
      authorities,
      close: async () => {
        nonceSweep.stop();
        admissionLog.stop();
        admission.logSummary();
        fleetGauges.stop();
        await policyListener.close();
        await knownGood.stop();
        await running.close();
      },
    };
  } catch (error) {
    if (service !== undefined) await service.close();
    else await closeServiceRuntime(runtime);
    throw error;
  }
}
