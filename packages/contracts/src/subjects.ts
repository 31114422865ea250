/**
 * NATS subjects, `<context>.<entity>.<verb>`. Every subject can be given a
 * prefix (see `withPrefix`) so that parallel test runs and several
 * installations can share one NATS server without seeing each other.
 */
export const Subject = {
  /** JetStream: a batch of accepted device readings (gateway → telemetry). */
  telemetryBatchReceived: 'telemetry.batch.received',
  /** Request/reply: the newest reading of one device. */
  telemetryDeviceLatest: 'telemetry.device.latest',
  /** Request/reply: ingest counters of the telemetry service. */
  telemetryIngestStats: 'telemetry.ingest.stats',
  /** Request/reply: a single-use nonce for a device's attestation. */
  attestationNonceIssue: 'attestation.nonce.issue',
  /** Request/reply: a TPM 2.0 credential challenge (the nonce inside MakeCredential) for a device's EK and AK. */
  attestationTpm2Challenge: 'attestation.tpm2.challenge',
  /** Request/reply: verify a device's evidence envelope (a signed token and its endorsement); on pass, an operational certificate. */
  attestationEvidenceVerify: 'attestation.evidence.verify',
  /** Broadcast: a device was revoked or un-revoked; every gateway replica acts on it. */
  attestationDeviceRevocation: 'attestation.device.revocation',
  /** JetStream: an image was released; its measurement is known-good (updates → attestation). */
  updatesImageReleased: 'updates.image.released',
  /** JetStream: an image was revoked; devices running it fail attestation. */
  updatesImageRevoked: 'updates.image.revoked',
  /** Broadcast: a tenant CA successor was created or became current; refresh trust bundles. */
  attestationCaRotated: 'attestation.ca.rotated',
  /** Broadcast: known-good measurements or security floors changed; every attestation replica reads policy again. */
  attestationPolicyChanged: 'attestation.policy.changed',
  /** JetStream: an attestation was refused — a failure report (attestation → failures). */
  attestationVerdictFailed: 'attestation.verdict.failed',
  /** JetStream: a device's failure report, with the id its certificate proves (gateway → failures). */
  failuresReportReceived: 'failures.report.received',
  /** JetStream: uptime heartbeats, with the id the device's certificate proves (gateway → failures). */
  failuresHeartbeatReceived: 'failures.heartbeat.received',
  /** Request/reply: crash-free devices and hours per version, optionally for a set of devices. */
  failuresStabilityQuery: 'failures.stability.query',
  /** Request/reply: buckets with their reports and devices in a window, optionally for a set of devices. */
  failuresBucketsQuery: 'failures.buckets.query',
  /** Broadcast: a failure bucket was seen for the first time (alerting). */
  failuresBucketCreated: 'failures.bucket.created',
  /** Broadcast: a failure bucket's reports spiked against its baseline (alerting). */
  failuresBucketSpiked: 'failures.bucket.spiked',
  /** Request/reply: is a new version's crash rate worse than its baseline's? (rollout health gates) */
  failuresHealthCompare: 'failures.health.compare',
  /** Request/reply: the tenant and role of an API token (by its hash), for other services' REST APIs. */
  attestationTokenIntrospect: 'attestation.token.introspect',
  /** Broadcast to every service's token guard: this API token is revoked, forget what was cached for it. */
  attestationTokenRevoked: 'attestation.token.revoked',
  /** Request/reply: the tenant that claimed a device, or null. */
  attestationDeviceTenant: 'attestation.device.tenant',
  /** Request/reply: the devices of a device group, or of a deployment (optionally one wave), for cohort views. */
  updatesCohortDevices: 'updates.cohort.devices',
  /** Broadcast to every gateway replica: send a command to these devices, where they are connected (updates → gateway → device). */
  gatewayDeviceCommand: 'gateway.device.command',
  /** Request/reply: may a device refused attestation fetch a newer OS on its IDevID (updates → attestation)? */
  attestationRecoveryGrant: 'attestation.recovery.grant',
  /** Request/reply: every revoked device id (a gateway's deny-list at start-up). */
  attestationRevocationsList: 'attestation.revocations.list',
  /** JetStream: a tenant was created (attestation → updates, which creates the tenant's TUF repository). */
  attestationTenantCreated: 'attestation.tenant.created',
  /** Request/reply: a tenant's current TUF root, which a device is given when it is claimed (attestation → updates). */
  updatesRootGet: 'updates.root.get',
} as const;
export type SubjectName = (typeof Subject)[keyof typeof Subject];

/** The services of the platform: queue groups and stream owners are named after them. */
export type ServiceName = 'gateway' | 'telemetry' | 'attestation' | 'failures' | 'updates';

/**
 * A JetStream stream and its one owner: the service that produces into it creates it and sets its limits. Every
 * other service checks it and leaves it alone (it creates it with these limits only when no one has yet, so it can
 * attach its durable; the owner brings it to its own settings when it starts). Before, each service overwrote the
 * settings with its own, and whichever started last won.
 */
export interface StreamDefinition {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly owner: ServiceName;
  /** Messages older than this are discarded (the owner's default; the gateway's TELEMETRY age is configurable). */
  readonly maxAgeMs: number;
  /** Window in which a resent message id is dropped as a duplicate. */
  readonly duplicateWindowMs: number;
}

const DAY_MS = 86_400_000;

export const Stream = {
  telemetry: {
    name: 'TELEMETRY',
    subjects: [Subject.telemetryBatchReceived],
    owner: 'gateway',
    maxAgeMs: DAY_MS,
    duplicateWindowMs: 2 * 60_000,
  },
  updates: {
    name: 'UPDATES_EVENTS',
    subjects: ['updates.image.>'],
    owner: 'updates',
    maxAgeMs: 30 * DAY_MS,
    duplicateWindowMs: 2 * 60_000,
  },
  attestation: {
    name: 'ATTESTATION_EVENTS',
    subjects: ['attestation.verdict.>', 'attestation.tenant.>'],
    owner: 'attestation',
    maxAgeMs: 7 * DAY_MS,
    duplicateWindowMs: 10 * 60_000,
  },
  failures: {
    name: 'FAILURES',
    subjects: ['failures.report.>', 'failures.heartbeat.>'],
    owner: 'gateway',
    maxAgeMs: 7 * DAY_MS,
    duplicateWindowMs: 10 * 60_000,
  },
} as const satisfies Record<string, StreamDefinition>;

/** Durable consumer names. Every replica of a service shares its durable. */
export const Durable = {
  telemetryIngest: 'telemetry-ingest',
  attestationKnownGood: 'attestation-known-good',
  failuresIngest: 'failures-ingest',
  failuresAttestation: 'failures-attestation',
  failuresStability: 'failures-stability',
  updatesTenantRepositories: 'updates-tenant-repositories',
} as const;

/** Queue groups: one per service, so each request is answered by one replica. */
export const QueueGroup: { readonly [S in ServiceName]: S } = {
  telemetry: 'telemetry',
  gateway: 'gateway',
  attestation: 'attestation',
  failures: 'failures',
  updates: 'updates',
} as const;

export function withPrefix(prefix: string, subject: string): string {
  return prefix.length === 0 ? subject : `${prefix}.${subject}`;
}

/** Stream names may not contain dots; a prefix becomes an underscore-joined tag. */
export function streamName(prefix: string, name: string): string {
  return prefix.length === 0 ? name : `${prefix.replaceAll('.', '_').toUpperCase()}_${name}`;
}
