import type { CertificateAuthority } from '@rampart/trust';
import { demoFirmware, flashFirmware, type Firmware } from '../firmware/firmware.js';
import { Flash } from '../mcu/flash.js';
import { SecuritySubsystem } from '../mcu/security-subsystem.js';
import { MemoryStateStore, type DeviceStateStore } from '../mcu/state-store.js';

export interface ManufacturedDevice {
  readonly security: SecuritySubsystem;
  /** The manufacturer-endorsed identity certificate (IDevID), PEM. */
  readonly identityCertificatePem: string;
}

export interface ManufactureOptions {
  /** Where the device keeps its state (a directory keeps it across restarts). */
  readonly store?: DeviceStateStore;
  /** What the factory flashes; default the demo firmware with the sample sensor app. */
  readonly firmware?: Firmware;
  /** The hardware module the IDevID names (RFC 4108 hardwareModuleName): a TPM device's TPM. */
  readonly hardwareModule?: { readonly hwType: string; readonly serial: Uint8Array };
}

const IDENTITY_ENTRY = 'idevid.pem';

/**
 * The factory step: the security subsystem makes its key, the manufacturer
 * CA endorses the public key with an IDevID certificate, the fuses are
 * burned and the firmware flashed. On a store that already holds a
 * manufactured device, that device is returned as it is.
 */
export async function manufactureDevice(
  manufacturerCa: CertificateAuthority,
  options: ManufactureOptions = {},
): Promise<ManufacturedDevice> {
  const store = options.store ?? new MemoryStateStore();
  const existing = store.read(IDENTITY_ENTRY);
  const security = new SecuritySubsystem(store);
  if (existing !== undefined) return { security, identityCertificatePem: existing.toString('utf8') };
  flashFirmware(security.fuses, new Flash(store), options.firmware ?? demoFirmware());
  const certificate = (
    await manufacturerCa.issueDeviceIdentity(security.deviceId, security.publicKeySpki, undefined, options.hardwareModule)
  ).toString('pem');
  store.write(IDENTITY_ENTRY, Buffer.from(certificate));
  return { security, identityCertificatePem: certificate };
}
