import {
  ALLOWED_PUBLISH,
  ALLOWED_SUBSCRIBE,
  DenialReason,
  DevicePublishTopic,
  DeviceSubscribeTopic,
  parseDeviceTopic,
  type DenialReasonValue,
  type DeviceCredential,
  type DevicePublishKind,
} from '@rampart/contracts';

export type PublishDecision =
  { readonly allowed: true; readonly kind: DevicePublishKind } | { readonly allowed: false; readonly reason: DenialReasonValue };

export type SubscribeDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: DenialReasonValue };

const publishKinds = new Map<string, DevicePublishKind>(
  Object.entries(DevicePublishTopic).map(([kind, path]) => [path, kind as DevicePublishKind]),
);
const subscribeAreas = new Map<string, keyof typeof DeviceSubscribeTopic>(
  Object.entries(DeviceSubscribeTopic).map(([kind, area]) => [area, kind as keyof typeof DeviceSubscribeTopic]),
);

/**
 * A device publishes only to the known topics under its own id that its
 * credential allows. Anything else — another device's namespace, `$SYS`, a
 * wildcard, an unknown topic, telemetry before attestation — is refused with
 * the reason.
 */
export function authorizeDevicePublish(deviceId: string, topic: string, credential: DeviceCredential = 'operational'): PublishDecision {
  const parsed = parseDeviceTopic(topic);
  if (parsed === undefined || parsed.deviceId !== deviceId) return { allowed: false, reason: DenialReason.topicNotAllowed };
  const kind = publishKinds.get(parsed.rest.join('/'));
  if (kind === undefined) return { allowed: false, reason: DenialReason.unknownTopic };
  if (!ALLOWED_PUBLISH[credential].includes(kind)) return { allowed: false, reason: DenialReason.notAttested };
  return { allowed: true, kind };
}

/**
 * A device subscribes only to filters inside `devices/<own id>/<area>/` for
 * the areas its credential allows. Wildcards are allowed only after that
 * prefix, so `#`, `+/…`, `devices/+/…` and `$SYS/#` never match another
 * device's or the broker's topics.
 */
export function authorizeDeviceSubscribe(
  deviceId: string,
  filter: string,
  credential: DeviceCredential = 'operational',
): SubscribeDecision {
  const levels = filter.split('/');
  const [root, id, area] = levels;
  if (root !== 'devices' || id !== deviceId || area === undefined) return { allowed: false, reason: DenialReason.topicNotAllowed };
  const kind = subscribeAreas.get(area);
  if (kind === undefined) return { allowed: false, reason: DenialReason.unknownTopic };
  if (!ALLOWED_SUBSCRIBE[credential].includes(kind)) return { allowed: false, reason: DenialReason.notAttested };
  return { allowed: true };
}
