import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateDevelopmentPki, type DevelopmentPki } from '@rampart/trust';

export interface TestPki extends DevelopmentPki {
  readonly dir: string;
  readonly files: {
    readonly gatewayCert: string;
    readonly gatewayKey: string;
    readonly manufacturerCa: string;
    readonly platformCa: string;
  };
  remove(): Promise<void>;
}

/** A development PKI in a temporary folder. */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'rampart-pki-'));
  const pki = await loadOrCreateDevelopmentPki(dir);
  return {
    ...pki,
    dir,
    files: {
      gatewayCert: join(dir, 'gateway.crt'),
      gatewayKey: join(dir, 'gateway.key'),
      manufacturerCa: join(dir, 'manufacturer-ca.crt'),
      platformCa: join(dir, 'platform-ca.crt'),
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
