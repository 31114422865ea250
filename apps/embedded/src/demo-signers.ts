import { demoFirmwareSigners, type FirmwareSigners } from '@rampart/emulator';

/**
 * The keys the demo fleet's firmware trusts, and that sign the demo's
 * updates. The one place that decides them: until the demo keeps its
 * signing keys in the data folder (so an operator's own image can update
 * the fleet), they are the emulator's, made afresh in each process — an
 * image signed by another process is refused by these devices.
 */
export function demoSigners(dataDir: string): Promise<FirmwareSigners> {
  void dataDir;
  return Promise.resolve(demoFirmwareSigners());
}
