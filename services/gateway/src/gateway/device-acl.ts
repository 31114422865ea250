import {
  DenialReason,
  DevicePublishTopic,
  DeviceSubscribeTopic,
  parseDeviceTopic,
  type DenialReasonValue,
  type DevicePublishKind,
} from '@rampart/contracts';

export type PublishDecision =
  { readonly allowed: true; readonly kind: DevicePublishKind } | { readonly allowed: false; readonly reason: DenialReasonValue };

export type SubscribeDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: DenialReasonValue };

const publishKinds = new Map<string, DevicePublishKind>(
  Object.entries(DevicePublishTopic).map(([kind, level]) => [level, kind as DevicePublishKind]),
);
const subscribeLevels = new Set<string>(Object.values(DeviceSubscribeTopic));

/**
 * A device publishes only to the known topics under its own id. Anything
 * else — another device's namespace, `$SYS`, a wildcard, an unknown topic —
 * is refused with the reason.
 */
export function authorizeDevicePublish(deviceId: string, topic: string): PublishDecision {
  const parsed = parseDeviceTopic(topic);
  if (parsed === undefined || parsed.deviceId !== deviceId) return { allowed: false, reason: DenialReason.topicNotAllowed };
  const kind = parsed.rest.length === 1 ? publishKinds.get(parsed.rest[0] ?? '') : undefined;
  if (kind === undefined) return { allowed: false, reason: DenialReason.unknownTopic };
  return { allowed: true, kind };
}

/**
 * A device subscribes only to filters inside `devices/<own id>/<allowed>/`.
 * Wildcards are allowed only after that prefix, so `#`, `+/…`, `devices/+/…`
 * and `$SYS/#` can never match another device's or the broker's topics.
 */
export function authorizeDeviceSubscribe(deviceId: string, filter: string): SubscribeDecision {
  const levels = filter.split('/');
  const [root, id, area] = levels;
  if (root !== 'devices' || id !== deviceId || area === undefined) return { allowed: false, reason: DenialReason.topicNotAllowed };
  if (!subscribeLevels.has(area)) return { allowed: false, reason: DenialReason.unknownTopic };
  return { allowed: true };
}
