/**
 * MQTT topics a device may use. Every device topic lives under
 * `devices/<deviceId>/`; the gateway's ACL is derived from this table, so a
 * topic that is not listed here does not exist for a device.
 */
export const DEVICE_TOPIC_ROOT = 'devices';

/** Topics a device publishes to (device → platform), relative to `devices/<id>/`. */
export const DevicePublishTopic = {
  telemetry: 'telemetry',
  /** Ask for an attestation nonce (payload ignored). */
  attestRequest: 'attest/request',
  /** Evidence (an `EvidenceEnvelope`, JSON). */
  attestEvidence: 'attest/evidence',
  /** Failure reports (`DeviceFailureReport` JSON), QoS 1. */
  failures: 'failures',
  /** Uptime heartbeats (`DeviceHeartbeat` JSON), QoS 1; only on an operational certificate. */
  heartbeat: 'heartbeat',
} as const;
export type DevicePublishKind = keyof typeof DevicePublishTopic;

/** Topic areas a device may subscribe below (platform → device). */
export const DeviceSubscribeTopic = {
  commands: 'commands',
  /** `attest/response`: nonces and verdicts (`AttestationResponse`). */
  attest: 'attest',
} as const;
export type DeviceSubscribeKind = keyof typeof DeviceSubscribeTopic;

/**
 * What a device may do depends on the certificate it connected with: the
 * manufacturer identity (IDevID) only attests; an operational certificate
 * (LDevID) from its tenant's CA unlocks the whole namespace.
 */
export type DeviceCredential = 'identity' | 'operational';

export const ALLOWED_PUBLISH: Readonly<Record<DeviceCredential, readonly DevicePublishKind[]>> = {
  // A device that fails to boot or attest still reports why (it is rate-limited like any other).
  identity: ['attestRequest', 'attestEvidence', 'failures'],
  operational: ['telemetry', 'attestRequest', 'attestEvidence', 'failures', 'heartbeat'],
};

export const ALLOWED_SUBSCRIBE: Readonly<Record<DeviceCredential, readonly DeviceSubscribeKind[]>> = {
  identity: ['attest'],
  operational: ['commands', 'attest'],
};

export function attestResponseTopic(deviceId: string): string {
  return `${DEVICE_TOPIC_ROOT}/${deviceId}/attest/response`;
}

export function deviceTopic(deviceId: string, kind: DevicePublishKind): string {
  return `${DEVICE_TOPIC_ROOT}/${deviceId}/${DevicePublishTopic[kind]}`;
}

/** Commands the platform sends a device on `devices/<id>/commands/<command>`. */
export const DEVICE_COMMANDS = ['update-check'] as const;
export type DeviceCommand = (typeof DEVICE_COMMANDS)[number];

export function deviceCommandTopic(deviceId: string, command: string): string {
  return `${DEVICE_TOPIC_ROOT}/${deviceId}/${DeviceSubscribeTopic.commands}/${command}`;
}

export interface ParsedDeviceTopic {
  readonly deviceId: string;
  /** The topic levels after `devices/<deviceId>/`. */
  readonly rest: readonly string[];
}

/** Splits `devices/<id>/a/b` into its parts; returns undefined for any other shape. */
export function parseDeviceTopic(topic: string): ParsedDeviceTopic | undefined {
  const levels = topic.split('/');
  if (levels.length < 3 || levels[0] !== DEVICE_TOPIC_ROOT) return undefined;
  const deviceId = levels[1];
  if (deviceId === undefined || deviceId.length === 0) return undefined;
  return { deviceId, rest: levels.slice(2) };
}
