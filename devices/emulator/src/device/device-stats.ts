import type { UpdateCheck } from '../updates/device-updater.js';
import type { DeviceEffect } from './device-messages.js';

export interface DeviceStats {
  published: number;
  acknowledged: number;
  dropped: number;
  connects: number;
  reconnects: number;
  connectFailures: number;
  everConnected: boolean;
  attestations: number;
  attestationFailures: number;
  lastAttestationReasons: readonly string[];
  reboots: number;
  attestationTimeouts: number;
  failureReportsSent: number;
  failureReportsDropped: number;
  heartbeatsSent: number;
  heartbeatsDropped: number;
  updateChecks: number;
  /** Update checks that finished, whatever their answer (or that failed to reach the server). */
  updateChecksDone: number;
  updatesInstalled: number;
  /** Updates refused (metadata, download, the agent's checks) or rolled back. */
  updatesFailed: number;
  /** Times the device, refused attestation for an outdated OS, took the recovery path. */
  recoveryAttempts: number;
  /** OS updates installed from the recovery path. */
  recoveries: number;
  /** Recovery attempts the server refused or that failed (no grant, unreachable). */
  recoveryRefusals: number;
  /** Attestation requests or evidence the attestor could not make (a TPM command failed): nothing sent, the timeout retries. */
  attestorErrors: number;
  /** What the last such failure said. */
  lastAttestorError: string;
  /** Attestation requests or evidence made but not sent (the MQTT publish failed): the timeout retries. */
  attestationPublishesDropped: number;
}

export function emptyDeviceStats(): DeviceStats {
  return {
    published: 0,
    acknowledged: 0,
    dropped: 0,
    connects: 0,
    reconnects: 0,
    connectFailures: 0,
    everConnected: false,
    attestations: 0,
    attestationFailures: 0,
    lastAttestationReasons: [],
    reboots: 0,
    attestationTimeouts: 0,
    failureReportsSent: 0,
    failureReportsDropped: 0,
    heartbeatsSent: 0,
    heartbeatsDropped: 0,
    updateChecks: 0,
    updateChecksDone: 0,
    updatesInstalled: 0,
    updatesFailed: 0,
    recoveryAttempts: 0,
    recoveries: 0,
    recoveryRefusals: 0,
    attestorErrors: 0,
    lastAttestorError: '',
    attestationPublishesDropped: 0,
  };
}

/** What an effect of the device's machine counts. */
export function countEffect(stats: DeviceStats, effect: DeviceEffect): void {
  switch (effect.type) {
    case 'count':
      stats[effect.counter]++;
      return;
    case 'open':
      stats.connects++;
      return;
    case 'went-online':
      stats.everConnected = true;
      return;
    case 'acknowledged':
      stats.acknowledged++;
      return;
    case 'attestation-refused':
      stats.attestationFailures++;
      stats.lastAttestationReasons = effect.reasons;
      return;
    case 'check-updates':
      stats.updateChecks++;
      return;
    case 'recover':
      stats.recoveryAttempts++;
      return;
    case 'power-on':
    case 'close':
    case 'disconnect':
    case 'subscribe':
    case 'publish':
    case 'send-evidence':
    case 'request-attestation':
    case 'attestation-passed':
    case 'set-timer':
    case 'clear-timer':
    case 'claim-seq-epoch':
    case 'drained':
      return;
  }
}

/** The outcome of an update check (undefined: the server was unreachable or the connection broke). */
export function countUpdateCheck(stats: DeviceStats, check: UpdateCheck | undefined): void {
  stats.updateChecksDone++;
  if (check === undefined) return;
  if (check.result === 'refused') stats.updatesFailed++;
  if (check.result !== 'updated') return;
  for (const outcome of check.outcomes) {
    if (outcome.result === 'committed') stats.updatesInstalled++;
    else stats.updatesFailed++;
  }
}

/** The outcome of a recovery attempt (undefined: no grant, or the server unreachable). */
export function countRecovery(stats: DeviceStats, check: UpdateCheck | undefined): void {
  if (check === undefined) {
    stats.recoveryRefusals++;
    return;
  }
  if (check.result === 'refused') stats.recoveryRefusals++;
  if (check.result !== 'updated') return;
  for (const outcome of check.outcomes) {
    if (outcome.result === 'committed') stats.recoveries++;
    else stats.updatesFailed++;
  }
}
