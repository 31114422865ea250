/**
 * MQTT topics a device may use. Every device topic lives under
 * `devices/<deviceId>/`; the gateway's ACL is derived from this table, so a
 * topic that is not listed here does not exist for a device.
 */
export const DEVICE_TOPIC_ROOT = 'devices';

/** Topics a device publishes to (device → platform). */
export const DevicePublishTopic = {
  telemetry: 'telemetry',
} as const;
export type DevicePublishKind = keyof typeof DevicePublishTopic;

/** Topic filters a device may subscribe to (platform → device). */
export const DeviceSubscribeTopic = {
  commands: 'commands',
} as const;
export type DeviceSubscribeKind = keyof typeof DeviceSubscribeTopic;

export function deviceTopic(deviceId: string, kind: DevicePublishKind): string {
  return `${DEVICE_TOPIC_ROOT}/${deviceId}/${DevicePublishTopic[kind]}`;
}

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
