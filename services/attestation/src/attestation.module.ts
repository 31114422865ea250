import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { Subject, type TenantCreatedEvent } from '@rampart/contracts';
import {
  CLOCK,
  DATA_SOURCE,
  LOGGER,
  MESSAGE_BUS,
  OBSERVABILITY,
  OpsController,
  SERVICE_CONFIG,
  TypedBus,
  encodeJson,
  type Clock,
  type Closable,
  type Logger,
  type MessageBus,
  type Observability,
  type ServiceRuntime,
} from '@rampart/service-kit';
import { KeyVault, openKeyProvider } from '@rampart/trust';
import type { DataSource } from 'typeorm';
import { AuthGuard } from './access/auth.guard.js';
import { CrlController } from './api/crl.controller.js';
import { RotationService } from './api/rotation.service.js';
import { PlatformController, TenantController } from './api/tenancy.controller.js';
import { FilePlatformCa } from './ca/file-platform-ca.js';
import type { PlatformCa } from './ca/platform-ca.js';
import { SigningMeter } from './ca/signing-meter.js';
import { TenantAuthorities } from './ca/tenant-authorities.js';
import { TokenPlatformCa } from './ca/token-platform-ca.js';
import { TenancyService } from './api/tenancy.service.js';
import type { AttestationConfig } from './attestation.config.js';
import { AttestationAdmission } from './attestation/attestation-admission.js';
import { AttestationBatches } from './attestation/attestation-batches.js';
import { AttestationHandler } from './attestation/attestation.handler.js';
import { AttestationRepository } from './attestation/attestation.repository.js';
import { AttestationService } from './attestation/attestation.service.js';
import { createAuthenticators } from './attestation/evidence/evidence-authenticators.js';
import { EvidenceVerifier } from './attestation/evidence-verifier.js';
import { FleetGauges } from './attestation/fleet-gauges.js';
import { KnownGoodConsumer } from './attestation/known-good.consumer.js';
import { SealedNonceStore } from './attestation/nonce-store.js';
import { ChallengeSeal } from './attestation/evidence/tpm2-quote/challenge-seal.js';
import { ManufacturerEndorsement } from './attestation/evidence/manufacturer-endorsement.js';
import { Tpm2ChallengeIssuer } from './attestation/evidence/tpm2-quote/tpm2-challenge-issuer.js';
import { Tpm2QuoteAuthenticator } from './attestation/evidence/tpm2-quote/tpm2-quote.authenticator.js';
import type { TpmVendorEndorsement } from './attestation/evidence/tpm-vendor-endorsement.js';
import { readCertificateBundle, tpmVendors } from './trust-anchors.js';
import { PolicyCache } from './attestation/policy-cache.js';

/** How long a claim waits for the tenant's update root from the updates service. */
const UPDATE_ROOT_TIMEOUT_MS = 5_000;

/** The platform's CA tiers above the tenants (PlatformCa): the root from files (two tiers) or the issuing CA in the token. */
export const PLATFORM_AUTHORITY = Symbol('attestation.platform-authority');
/** The manufacturer roots device endorsements chain to (PEM, at least one). */
export const MANUFACTURER_ROOTS = Symbol('attestation.manufacturer-roots');
/** The TPM vendors EK certificates chain to (TPM_VENDOR_CA_FILE), or null when none are configured. */
export const TPM_VENDORS = Symbol('attestation.tpm-vendors');
/** Drops this replica's cached policy and tells every other replica to drop theirs. */
export const ANNOUNCE_POLICY_CHANGE = Symbol('attestation.announce-policy-change');
export type AnnouncePolicyChange = () => Promise<void>;

/** Drops the cached policy whenever any replica announces a change (known-good values, a tenant's policy). */
@Injectable()
export class PolicyChangeListener {
  private listening: Closable | undefined;

  constructor(
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(PolicyCache) private readonly policies: PolicyCache,
  ) {}

  async start(): Promise<void> {
    this.listening = await this.bus.listen(Subject.attestationPolicyChanged, () => this.policies.invalidate());
  }

  async stop(): Promise<void> {
    await this.listening?.close();
  }
}

/** Logs the last refusals once the handlers have stopped, so the summary covers the whole run; then lets go of the key provider. */
@Injectable()
export class AttestationLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(AttestationAdmission) private readonly admission: AttestationAdmission,
    @Inject(PLATFORM_AUTHORITY) private readonly platform: PlatformCa,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.admission.logSummary();
    await this.platform.close();
  }
}

/**
 * The platform CA the configuration names. Three tiers: the key provider
 * opened and the ceremony's files checked (named errors stop start-up), and
 * readiness tied to the token: `keys` fails, naming the key and why, while
 * the token is away, refuses the PIN or lacks the issuing key, or holds
 * another key than the certificate's; the service starts and serves
 * anyway, refusing every signature as UNAVAILABLE.
 */
async function openPlatformCa(config: AttestationConfig, runtime: ServiceRuntime): Promise<PlatformCa> {
  const { hierarchy, keys } = config.ca;
  const meter = new SigningMeter(runtime.observability.meter, keys.kind);
  const { keyEncryptionKey } = config.ca;
  if (hierarchy.kind === 'two-tier') {
    // The schema requires the key-encryption key with software keys, the only ones two tiers use.
    if (keyEncryptionKey === undefined) throw new Error('two tiers need CA_KEY_ENCRYPTION_KEY');
    return FilePlatformCa.open(hierarchy, new KeyVault(keyEncryptionKey), meter);
  }
  const provider = openKeyProvider(keys, () => {
    // The schema allows three tiers with pkcs11 only; a software provider here would be a schema bug.
    throw new Error('three-tier CA keys need KEYS_PROVIDER=pkcs11');
  });
  let platform: PlatformCa;
  try {
    // The key vault signs the CRLs of tenant CAs sealed before the move to three tiers, until they expire.
    platform = await TokenPlatformCa.open(
      hierarchy,
      provider,
      meter,
      runtime.logger,
      keyEncryptionKey === undefined ? undefined : new KeyVault(keyEncryptionKey),
    );
  } catch (error) {
    await provider.close();
    throw error;
  }
  runtime.readiness.register('keys', async () => {
    try {
      await platform.ready();
    } catch (error) {
      throw new Error(error instanceof Error ? `${error.name}: ${error.message}` : String(error), { cause: error });
    }
  });
  return platform;
}

export interface AttestationModuleOptions {
  readonly runtime: ServiceRuntime;
}

@Module({})
export class AttestationModule {
  static forRoot(options: AttestationModuleOptions): DynamicModule {
    const { runtime } = options;
    const denials = runtime.observability.meter.createCounter('rampart_attestation_api_denials_total', {
      description: 'Refused API requests',
    });
    return {
      module: AttestationModule,
      controllers: [OpsController, PlatformController, TenantController, CrlController, AttestationHandler],
      providers: [
        {
          provide: PLATFORM_AUTHORITY,
          inject: [SERVICE_CONFIG],
          useFactory: (config: AttestationConfig) => openPlatformCa(config, runtime),
        },
        {
          provide: MANUFACTURER_ROOTS,
          inject: [SERVICE_CONFIG],
          useFactory: (config: AttestationConfig) => readCertificateBundle('MANUFACTURER_CA_FILE', config.ca.manufacturerCaFile),
        },
        {
          provide: TPM_VENDORS,
          inject: [SERVICE_CONFIG],
          useFactory: (config: AttestationConfig) => tpmVendors(config.ca.tpmVendorCaFile),
        },
        {
          provide: AttestationRepository,
          inject: [DATA_SOURCE],
          useFactory: (dataSource: DataSource) => new AttestationRepository(dataSource),
        },
        {
          provide: TenantAuthorities,
          inject: [PLATFORM_AUTHORITY, AttestationRepository, SERVICE_CONFIG, LOGGER],
          useFactory: (platform: PlatformCa, repository: AttestationRepository, config: AttestationConfig, logger: Logger) =>
            new TenantAuthorities(platform, repository, config.ca, logger),
        },
        {
          provide: AttestationBatches,
          inject: [AttestationRepository],
          useFactory: (repository: AttestationRepository) => new AttestationBatches(repository),
        },
        {
          provide: PolicyCache,
          inject: [AttestationRepository],
          useFactory: (repository: AttestationRepository) => new PolicyCache(repository),
        },
        PolicyChangeListener,
        {
          provide: ANNOUNCE_POLICY_CHANGE,
          inject: [PolicyCache, MESSAGE_BUS],
          useFactory:
            (policies: PolicyCache, bus: MessageBus): AnnouncePolicyChange =>
            async () => {
              policies.invalidate();
              await bus.broadcast(Subject.attestationPolicyChanged, encodeJson({}));
            },
        },
        {
          provide: AttestationService,
          inject: [
            AttestationRepository,
            MANUFACTURER_ROOTS,
            SERVICE_CONFIG,
            AttestationBatches,
            PolicyCache,
            TenantAuthorities,
            CLOCK,
            LOGGER,
            OBSERVABILITY,
            MESSAGE_BUS,
            TPM_VENDORS,
          ],
          useFactory: (
            repository: AttestationRepository,
            manufacturerRoots: string[],
            config: AttestationConfig,
            batches: AttestationBatches,
            policies: PolicyCache,
            authorities: TenantAuthorities,
            clock: Clock,
            logger: Logger,
            observability: Observability,
            bus: MessageBus,
            vendors: TpmVendorEndorsement | null,
          ) => {
            const endorsement = new ManufacturerEndorsement(manufacturerRoots);
            const nonces = new SealedNonceStore(config.ca.nonceSecret, config.nonceTtlMs, batches);
            // TPM 2.0 quotes only with TPM vendor roots to check EK certificates against (TPM_VENDOR_CA_FILE).
            const seal = new ChallengeSeal(config.ca.nonceSecret);
            const tpm2 = vendors === null ? undefined : new Tpm2QuoteAuthenticator(vendors, endorsement, seal);
            const tpm2Challenges = vendors === null ? undefined : new Tpm2ChallengeIssuer(vendors, seal, nonces);
            return new AttestationService(
              repository,
              new EvidenceVerifier(createAuthenticators(endorsement, tpm2)),
              nonces,
              batches,
              policies,
              authorities,
              clock,
              logger,
              observability.meter,
              async (event) => {
                await bus.publishDurable(Subject.attestationVerdictFailed, encodeJson(event), { msgId: event.id });
              },
              observability.tracer,
              tpm2Challenges,
            );
          },
        },
        {
          provide: AttestationAdmission,
          inject: [SERVICE_CONFIG, CLOCK, LOGGER, OBSERVABILITY],
          useFactory: (config: AttestationConfig, clock: Clock, logger: Logger, observability: Observability) =>
            new AttestationAdmission(config.admission, clock, logger, observability.meter),
        },
        {
          provide: KnownGoodConsumer,
          inject: [MESSAGE_BUS, AttestationRepository, LOGGER, ANNOUNCE_POLICY_CHANGE],
          useFactory: (bus: MessageBus, repository: AttestationRepository, logger: Logger, announcePolicyChange: AnnouncePolicyChange) =>
            new KnownGoodConsumer(bus, repository, logger, announcePolicyChange),
        },
        {
          provide: RotationService,
          inject: [AttestationRepository, TenantAuthorities, MESSAGE_BUS, CLOCK, LOGGER],
          useFactory: (repository: AttestationRepository, authorities: TenantAuthorities, bus: MessageBus, clock: Clock, logger: Logger) =>
            new RotationService(repository, authorities, bus, clock, logger),
        },
        {
          provide: FleetGauges,
          inject: [DATA_SOURCE, OBSERVABILITY, LOGGER, SERVICE_CONFIG],
          useFactory: (dataSource: DataSource, observability: Observability, logger: Logger, config: AttestationConfig) =>
            new FleetGauges(dataSource, observability.meter, logger, config.fleetGaugesMs),
        },
        {
          provide: TenancyService,
          inject: [AttestationRepository, TenantAuthorities, MESSAGE_BUS, ANNOUNCE_POLICY_CHANGE, LOGGER],
          useFactory: (
            repository: AttestationRepository,
            authorities: TenantAuthorities,
            bus: MessageBus,
            announcePolicyChange: AnnouncePolicyChange,
            logger: Logger,
          ) => tenancyService(repository, authorities, bus, announcePolicyChange, logger),
        },
        AttestationLifecycle,
        {
          provide: APP_GUARD,
          inject: [Reflector, AttestationRepository, SERVICE_CONFIG],
          useFactory: (reflector: Reflector, repository: AttestationRepository, config: AttestationConfig) =>
            new AuthGuard(reflector, repository, config.platformAdminToken, runtime.logger, denials),
        },
      ],
    };
  }
}

/** Tenancy with its announcements on the bus: each one's loss is logged, never the operator's failure. */
function tenancyService(
  repository: AttestationRepository,
  authorities: TenantAuthorities,
  bus: MessageBus,
  announcePolicyChange: AnnouncePolicyChange,
  logger: Logger,
): TenancyService {
  const updatesBus = new TypedBus(bus);
  return new TenancyService(
    repository,
    authorities,
    (event) => bus.broadcast(Subject.attestationDeviceRevocation, encodeJson(event)),
    announcePolicyChange,
    async (tenantId) => {
      const event: TenantCreatedEvent = { tenantId };
      // A lost announcement is not the tenant's failure: the update server also makes the repository on a device's first read.
      await bus
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
      await bus
        .broadcast(Subject.attestationTokenRevoked, encodeJson({ tokenHash }))
        .catch((error: unknown) => logger.warn({ err: error }, 'token revocation not broadcast; guards drop it when their cache ends'));
    },
  );
}
