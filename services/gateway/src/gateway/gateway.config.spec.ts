import { ConfigError } from '@rampart/service-kit';
import { describe, expect, it } from 'vitest';
import { gatewayConfig, loadGatewayConfig, type GatewayConfigInput } from './gateway.config.js';

const valid = {
  NATS_URL: 'nats://127.0.0.1:4222',
  TLS_CERT_FILE: 'c.pem',
  TLS_KEY_FILE: 'k.pem',
  MANUFACTURER_CA_FILE: 'ca.pem',
  PLATFORM_CA_FILE: 'root.pem',
};

describe('loadGatewayConfig', () => {
  it('applies documented defaults', () => {
    const config = loadGatewayConfig(valid);
    expect(config.mqtt.port).toBe(8883);
    expect(config.devListener).toBeUndefined();
    expect(config.limits.maxPacketBytes).toBe(16 * 1024);
  });

  it('names every bad key at once', () => {
    try {
      loadGatewayConfig({ MQTT_PORT: '70000', MAX_PACKET_BYTES: 'lots', NATS_URL: 'http://x' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const keys = (error as ConfigError).issues.map((i) => i.key).sort();
      expect(keys).toEqual([
        'MANUFACTURER_CA_FILE',
        'MAX_PACKET_BYTES',
        'MQTT_PORT',
        'NATS_URL',
        'PLATFORM_CA_FILE',
        'TLS_CERT_FILE',
        'TLS_KEY_FILE',
      ]);
    }
  });

  it('refuses a development listener on a non-loopback address', () => {
    expect(() => loadGatewayConfig({ ...valid, DEV_LISTENER_PORT: '1884', DEV_LISTENER_HOST: '0.0.0.0' })).toThrow(/DEV_LISTENER_HOST/);
  });

  it('counts handshaking sockets inside the connection cap', () => {
    expect(loadGatewayConfig({ ...valid, MAX_CONNECTIONS: '100' }).limits.maxHandshaking).toBe(100);
    expect(() => loadGatewayConfig({ ...valid, MAX_CONNECTIONS: '100', MAX_HANDSHAKING: '200' })).toThrow(/MAX_HANDSHAKING/);
  });
});

describe(gatewayConfig.name, () => {
  const typed: GatewayConfigInput = {
    ...valid,
    HTTP_PORT: 0,
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: 0,
    DEVICE_RATE_PER_SEC: 50,
    DEV_LISTENER_PORT: 18_830,
    ALLOWED_TENANTS: 'acme,globex',
  };
  /** The same values as an environment would hold them. */
  const asEnv = (input: object): Record<string, string> => Object.fromEntries(Object.entries(input).map(([k, v]) => [k, String(v)]));

  it('builds from typed values what loadGatewayConfig reads from the same values as strings, defaults included', () => {
    expect(gatewayConfig(typed)).toEqual(loadGatewayConfig(asEnv(typed)));
  });

  it('refuses a bad typed value with the ConfigError naming its key', () => {
    expect(() => gatewayConfig({ ...typed, MQTT_PORT: 1.5 })).toThrow(ConfigError);
    expect(() => gatewayConfig({ ...typed, MQTT_PORT: 1.5 })).toThrow(/^gateway: invalid configuration: MQTT_PORT: /);
  });
});
