import { describe, expect, it } from 'vitest';
import { authorizeDevicePublish, authorizeDeviceSubscribe } from './device-acl.js';

const me = 'a'.repeat(64);
const other = 'b'.repeat(64);

describe('device ACL', () => {
  it('lets a device publish telemetry under its own id', () => {
    expect(authorizeDevicePublish(me, `devices/${me}/telemetry`)).toEqual({ allowed: true, kind: 'telemetry' });
  });

  it('lets a device on its manufacturer identity report failures but not telemetry or uptime (it is not attested yet)', () => {
    expect(authorizeDevicePublish(me, `devices/${me}/failures`, 'identity')).toEqual({ allowed: true, kind: 'failures' });
    expect(authorizeDevicePublish(me, `devices/${me}/heartbeat`, 'identity')).toEqual({ allowed: false, reason: 'not_attested' });
    expect(authorizeDevicePublish(me, `devices/${me}/telemetry`, 'identity')).toEqual({ allowed: false, reason: 'not_attested' });
    expect(authorizeDevicePublish(me, `devices/${me}/heartbeat`)).toEqual({ allowed: true, kind: 'heartbeat' });
  });

  it.each([
    [`devices/${other}/telemetry`, 'topic_not_allowed'],
    ['$SYS/broker/clients', 'topic_not_allowed'],
    ['telemetry', 'topic_not_allowed'],
    [`devices/${me}`, 'topic_not_allowed'],
    [`devices/${me}/unknown`, 'unknown_topic'],
    [`devices/${me}/telemetry/extra`, 'unknown_topic'],
    [`devices/${me}/commands/reboot`, 'unknown_topic'],
  ])('refuses a publish to %s (%s)', (topic, reason) => {
    expect(authorizeDevicePublish(me, topic)).toEqual({ allowed: false, reason });
  });

  it('lets a device subscribe to its own commands, with wildcards only below them', () => {
    expect(authorizeDeviceSubscribe(me, `devices/${me}/commands/#`)).toEqual({ allowed: true });
    expect(authorizeDeviceSubscribe(me, `devices/${me}/commands/+`)).toEqual({ allowed: true });
  });

  it.each([
    '#',
    '+/#',
    '+/+/commands/#',
    'devices/#',
    'devices/+/commands/#',
    `devices/${other}/commands/#`,
    '$SYS/#',
    `devices/${me}/#`,
    `devices/${me}/+/x`,
    `devices/${me}/telemetry`,
  ])('refuses a subscription to %s', (filter) => {
    expect(authorizeDeviceSubscribe(me, filter).allowed).toBe(false);
  });
});
