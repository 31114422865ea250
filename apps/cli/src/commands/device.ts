import { writeFile } from 'node:fs/promises';
import { ApiClient, ApiHttpError, messageOf } from '@rampart/api-client';
import { InvalidArgumentError, type Command } from 'commander';
import { configPath, readConfig } from '../config/config-file.js';
import { resolveApi, type ConnectionFlags } from '../config/connection.js';
import { print } from '../output/format.js';
import {
  caCertificateView,
  deviceView,
  keyValueView,
  verdictView,
  type CaCertificateRow,
  type DeviceRow,
  type VerdictRow,
} from '../output/views.js';
import { outputOption } from '../options.js';
import { allDevices, fullDeviceId, groupsWithProducts, resolveDevice } from '../resolve.js';
import { seg, withSession, type Session } from '../session.js';

/** Devices with their group (updates) and last-seen time (telemetry) joined in: what an operator scans for. */
async function devicesJoined(s: Session, devices: DeviceRow[]): Promise<DeviceRow[]> {
  const [groups, seen] = await Promise.all([
    groupsWithProducts(s),
    s.get<Array<{ deviceId: string; lastSeen: number }>>('/v1/telemetry/devices?limit=1000'),
  ]);
  const groupOf = new Map<string, string>();
  await Promise.all(
    groups.map(async (g) => {
      for (const member of await s.get<string[]>(`/v1/device-groups/${seg(g.id)}/devices`)) groupOf.set(member, `${g.product}/${g.name}`);
    }),
  );
  const lastSeen = new Map(seen.map((d) => [d.deviceId, d.lastSeen]));
  return devices.map((d) => ({ ...d, group: groupOf.get(d.id) ?? null, lastSeen: lastSeen.get(d.id) ?? null }));
}

/** A <device-id> argument that must be the full id: the device is not the tenant's yet, so no lookup can complete a prefix. */
function fullDeviceIdArgument(value: string): string {
  const id = fullDeviceId(value);
  if (id === undefined) throw new InvalidArgumentError(`expected a device id, 64 hex characters, got "${value}"`);
  return id;
}

export function registerDevice(program: Command): void {
  const device = program.command('device').description("Your tenant's devices (<device> is an id or a unique prefix)");
  device
    .command('list')
    .description('devices with their status, group and when they were last seen')
    .addOption(outputOption())
    .action(
      withSession(async (s) => {
        await print(s.output, await devicesJoined(s, await allDevices(s)), deviceView);
      }),
    );
  device
    .command('show <device>')
    .description('one device')
    .addOption(outputOption())
    .action(
      withSession(async (s, query: string) => {
        const id = await resolveDevice(s, query);
        await print(s.output, await devicesJoined(s, [await s.get<DeviceRow>(`/v1/devices/${seg(id)}`)]), deviceView);
      }),
    );
  device
    .command('claim')
    .description('claim a device for your tenant (permanent)')
    .argument('<device-id>', 'the full 64-hex id (it is not yours yet, so no prefix)', fullDeviceIdArgument)
    .addOption(outputOption())
    .action(
      withSession(async (s, id: string) => {
        await print(s.output, await s.send('PUT', `/v1/devices/${seg(id)}/claim`), keyValueView);
      }),
    );
  device
    .command('revoke <device>')
    .description('revoke a device')
    .requiredOption('--reason <reason>', 'why')
    .addOption(outputOption())
    .action(
      withSession(async (s, query: string, o: { reason: string }) => {
        const id = await resolveDevice(s, query);
        await print(s.output, await s.send<DeviceRow>('POST', `/v1/devices/${seg(id)}/revoke`, { reason: o.reason }), deviceView);
      }),
    );
  device
    .command('unrevoke <device>')
    .description('lift a revocation')
    .addOption(outputOption())
    .action(
      withSession(async (s, query: string) => {
        const id = await resolveDevice(s, query);
        await print(s.output, await s.send<DeviceRow>('POST', `/v1/devices/${seg(id)}/unrevoke`), deviceView);
      }),
    );

  const caCertificate = program.command('ca-certificate').description("Your tenant's CA certificates");
  caCertificate
    .command('list')
    .description('current and next tenant CA, and the platform root')
    .addOption(outputOption())
    .action(
      withSession(async (s) => {
        await print(s.output, await s.get<CaCertificateRow[]>('/v1/ca-certificates'), caCertificateView);
      }),
    );
  caCertificate
    .command('rotate')
    .description('make the successor tenant CA the issuing one (creating it first if needed)')
    .addOption(outputOption())
    .action(
      withSession(async (s) => {
        await print(s.output, await s.send('POST', '/v1/ca-certificates/rotate'), keyValueView);
      }),
    );
  caCertificate
    .command('download <tenant-id>')
    .description("write the tenant's trust bundle (current and next CA, platform root) as PEM (public: no token needed)")
    .option('--out <file>', 'file to write (default: standard output)')
    .action(async (tenantId: string, o: { out?: string }, command: Command) => {
      const api = resolveApi(command.optsWithGlobals<ConnectionFlags>(), process.env, await readConfig(configPath()));
      const response = await new ApiClient(api).fetch('GET', `/v1/tenants/${seg(tenantId)}/trust-bundle`, undefined);
      const body = await response.text();
      if (!response.ok) throw new ApiHttpError('GET', 'trust-bundle', response.status, messageOf(body, `HTTP ${response.status}`), body);
      if (o.out === undefined) process.stdout.write(body);
      else await writeFile(o.out, body);
    });

  program
    .command('attestation')
    .description('Attestation')
    .command('log')
    .description('verdicts, newest first')
    .addOption(outputOption())
    .action(
      withSession(async (s) => {
        await print(s.output, await s.get<VerdictRow[]>('/v1/attestations'), verdictView);
      }),
    );
}
