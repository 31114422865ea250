import { X509Certificate } from 'node:crypto';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { HW_TYPE_TPM2, hardwareModuleNamesOf, parseTpm2bPublic, publicKeyOf, tpmSerialOf, type CertificateAuthority } from '@rampart/trust';
import { manufactureDevice, type ManufactureOptions, type ManufacturedDevice } from '../factory/manufacture.js';
import { DirectoryStateStore } from '../mcu/state-store.js';
import { Swtpm, manufactureTpm, type TpmVendorCa } from './swtpm.js';
import { TpmClient } from './tpm-client.js';

/**
 * What the factory leaves on a TPM device: its TPM (state in `dir/state`), its security subsystem (the TLS key, the
 * flash with its firmware, fuses, state) and its IDevID naming that TPM.
 */
export interface TpmDeviceIdentity extends ManufacturedDevice {
  readonly dir: string;
  readonly deviceId: string;
  /** The IDevID, PEM (the same as `identityCertificatePem`). */
  readonly idevidPem: string;
}

/** The EK public of the TPM in `dir`: a power-on, one read, an orderly shutdown. */
async function ekPublicOf(dir: string): Promise<Buffer> {
  const tpm = await Swtpm.start(dir);
  try {
    const client = await TpmClient.open(tpm, dir);
    try {
      return await client.ekPublic();
    } finally {
      await client.orderlyShutdown().catch(() => undefined);
      await client.close();
    }
  } finally {
    await tpm.stop();
  }
}

/**
 * The factory: a TPM from its vendor (EK and EK certificate), then the device maker's step — the device's security
 * subsystem and firmware, as for any device, and an IDevID from the manufacturer CA that names the device's TPM
 * (RFC 4108 hardwareModuleName, the EK's serial as Rampart gives it), so the platform can check the TPM that quotes
 * is the one this identity was made for. The device's state is kept in `dir/device` unless `options.store` says
 * otherwise; on a `dir` and store that already hold a device, that device is returned as it is — and refused if its
 * IDevID names another TPM than the one in `dir` (a device state kept, its TPM lost: it could never attest).
 */
export async function manufactureTpmDevice(
  dir: string,
  tpmVendor: TpmVendorCa,
  manufacturer: CertificateAuthority,
  options: ManufactureOptions = {},
): Promise<TpmDeviceIdentity> {
  await mkdir(dir, { recursive: true });
  // A device restarted on its state keeps its TPM (its EK is what its IDevID names).
  const made = await access(join(dir, 'state', 'tpm2-00.permall')).then(
    () => true,
    () => false,
  );
  if (!made) await manufactureTpm(dir, tpmVendor);
  const serial = tpmSerialOf(publicKeyOf(parseTpm2bPublic(await ekPublicOf(dir))));
  const device = await manufactureDevice(manufacturer, {
    ...options,
    store: options.store ?? new DirectoryStateStore(join(dir, 'device')),
    hardwareModule: { hwType: HW_TYPE_TPM2, serial },
  });
  const named = hardwareModuleNamesOf(new X509Certificate(device.identityCertificatePem)).filter((n) => n.hwType === HW_TYPE_TPM2);
  if (!named.some((n) => n.serial.equals(serial))) {
    throw new Error(
      `device ${device.security.deviceId}: its IDevID names TPM ${named.map((n) => n.serial.toString('hex')).join(', ') || '(none)'}, ` +
        `but the TPM in ${dir} is ${serial.toString('hex')} — keep the TPM state with the device state`,
    );
  }
  return { ...device, dir, deviceId: device.security.deviceId, idevidPem: device.identityCertificatePem };
}
