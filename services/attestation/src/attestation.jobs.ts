import { Inject, Injectable } from '@nestjs/common';
import { LOGGER, type Job, type Logger } from '@rampart/service-kit';
import { RotationService } from './api/rotation.service.js';
import { AttestationAdmission } from './attestation/attestation-admission.js';
import { AttestationRepository } from './attestation/attestation.repository.js';

/** How often the CA rotation policy is checked. */
const ROTATION_CHECK_MS = 6 * 60 * 60 * 1000;
/** How often refused attestation requests are summarised in the log. */
const ADMISSION_LOG_MS = 10_000;
/** How often expired spent nonces are deleted. */
const NONCE_SWEEP_MS = 60_000;

/** Prepares and activates tenant CA successors when the rotation policy says they are due. */
@Injectable()
export class RotationPolicyJob implements Job {
  readonly name = 'CA rotation policy';
  readonly intervalMs = ROTATION_CHECK_MS;

  constructor(
    @Inject(RotationService) private readonly rotation: RotationService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  run(): Promise<void> {
    return this.rotation.runPolicy();
  }

  onError(error: unknown): void {
    this.logger.error({ err: error }, 'CA rotation check failed');
  }
}

/** Summarises refused attestation requests in the log, not one line per refusal. */
@Injectable()
export class AdmissionLogJob implements Job {
  readonly name = 'admission summary';
  readonly intervalMs = ADMISSION_LOG_MS;

  constructor(@Inject(AttestationAdmission) private readonly admission: AttestationAdmission) {}

  run(): Promise<void> {
    this.admission.logSummary();
    return Promise.resolve();
  }

  // Writing a log line has nothing to retry or report.
  onError(): void {}
}

/** Forgets spent nonces that have expired (a replay of one fails its expiry check anyway). */
@Injectable()
export class NonceSweepJob implements Job {
  readonly name = 'spent nonce sweep';
  readonly intervalMs = NONCE_SWEEP_MS;

  constructor(
    @Inject(AttestationRepository) private readonly repository: AttestationRepository,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async run(): Promise<void> {
    const swept = await this.repository.sweepSpentNonces();
    if (swept > 0) this.logger.debug({ swept }, 'expired spent nonces deleted');
  }

  onError(error: unknown): void {
    this.logger.warn({ err: error }, 'spent nonce sweep failed; it runs again');
  }
}
