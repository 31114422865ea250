import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HW_TYPE_TPM2, hardwareModuleNamesOf, parseTpm2bPublic, publicKeyOf, tpmSerialOf, type CertificateAuthority } from '@rampart/trust';
import { manufactureDevice, type ManufactureOptions, type ManufacturedDevice } from '../factory/manufacture.js';
import { DirectoryStateStore } from '../mcu/state-store.js';
import { Swtpm, findProgram } from './swtpm.js';
import { TpmClient } from './tpm-client.js';

const run = promisify(execFile);

/**
 * A TPM vendor's CA as swtpm_localca takes it: its private key in the vendor's own file (read where it is, never copied
 * into a device's folder) and its certificate.
 */
export interface TpmVendorCa {
  readonly keyFile: string;
  readonly certificatePem: string;
}

/**
 * A vendor CA kept in `dir` (0700): its key in `tpm-vendor-ca.key` (0600), for a vendor made on the spot (tests, the
 * bench) rather than loaded from where a device maker keeps it.
 */
export async function storeTpmVendorCa(
  dir: string,
  ca: { readonly privateKeyPem: string; readonly certificatePem: string },
): Promise<TpmVendorCa> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, 'tpm-vendor-ca.key');
  await writeFile(keyFile, ca.privateKeyPem, { mode: 0o600 });
  return { keyFile, certificatePem: ca.certificatePem };
}

/**
 * Manufactures a TPM's state in `dir`: an RSA-2048 EK (and the ECC one swtpm always makes) at their persistent
 * handles, each with an EK certificate signed by the vendor CA and written to its NV index, and a SHA-256 PCR bank —
 * what a TPM maker does at the factory. Runs Debian's swtpm_setup with swtpm_localca configured for this CA, its
 * signing key read from the vendor's own file: no copy of the vendor's key is ever in the device's folder.
 */
export async function manufactureTpm(dir: string, vendor: TpmVendorCa): Promise<void> {
  const localca = await findProgram('swtpm_localca');
  if (localca === undefined) throw new Error('swtpm_localca is not on PATH (Debian: apt-get install swtpm-tools)');
  const state = join(dir, 'state');
  // swtpm_localca's own state (the next certificate serial) and the issuer's certificate: nothing secret.
  const ca = join(dir, 'vendor-ca');
  await mkdir(state, { recursive: true });
  await mkdir(ca, { recursive: true, mode: 0o700 });
  await writeFile(join(ca, 'issuercert.pem'), vendor.certificatePem);
  await writeFile(
    join(dir, 'localca.conf'),
    [
      `statedir = ${ca}`,
      `signingkey = ${vendor.keyFile}`,
      `issuercert = ${join(ca, 'issuercert.pem')}`,
      `certserial = ${join(ca, 'certserial')}`,
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'localca.options'), '--platform-manufacturer Rampart\n--platform-model swtpm-device\n--platform-version 1\n');
  await writeFile(
    join(dir, 'setup.conf'),
    [
      `create_certs_tool = ${localca}`,
      `create_certs_tool_config = ${join(dir, 'localca.conf')}`,
      `create_certs_tool_options = ${join(dir, 'localca.options')}`,
      'active_pcr_banks = sha256',
      '',
    ].join('\n'),
  );
  await run('swtpm_setup', ['--tpm2', '--tpm-state', state, '--create-ek-cert', '--config', join(dir, 'setup.conf'), '--overwrite']);
}

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
