import { Pkcs11KeyProvider } from '@rampart/trust';
import { runDevelopmentCeremony, type PlatformCaFiles } from './development-ceremony.js';
import { loadOrCreateDevelopmentToken, type DevelopmentToken } from './development-token.js';

/** Where a signing service finds its token: the key-provider settings every signing service reads (@rampart/trust's keyProviderEnvShape). */
export interface TokenSettings {
  readonly KEYS_PROVIDER: 'pkcs11';
  readonly PKCS11_MODULE: string;
  readonly PKCS11_TOKEN_LABEL: string;
  readonly PKCS11_PIN_FILE: string;
}

export interface DevelopmentKeys {
  readonly token: DevelopmentToken;
  readonly settings: TokenSettings;
  readonly platformCa: PlatformCaFiles;
}

/**
 * DEVELOPMENT (`rampart up --keys pkcs11`, `rampart secrets dev-keys`): the
 * data folder's SoftHSM2 token, found or made, and the three-tier platform
 * CA's files from the development ceremony, found or made.
 *
 * Sets SOFTHSM2_CONF in this process's environment: SoftHSM reads it when
 * the module is initialised, and the services that open the module run in
 * this process (a separate process gets it in its own environment).
 */
export async function prepareDevelopmentKeys(
  dataDir: string,
  options: { readonly rootCrlUrl?: string; readonly offlineDir?: string; readonly platformCaDir?: string } = {},
): Promise<DevelopmentKeys> {
  const token = await loadOrCreateDevelopmentToken(dataDir);
  process.env['SOFTHSM2_CONF'] = token.softhsmConf;
  const settings: TokenSettings = {
    KEYS_PROVIDER: 'pkcs11',
    PKCS11_MODULE: token.modulePath,
    PKCS11_TOKEN_LABEL: token.tokenLabel,
    PKCS11_PIN_FILE: token.pinFile,
  };
  const provider = Pkcs11KeyProvider.open({ modulePath: token.modulePath, tokenLabel: token.tokenLabel, pinFile: token.pinFile });
  try {
    const platformCa = await runDevelopmentCeremony({ dataDir, provider, ...options });
    return { token, settings, platformCa };
  } finally {
    await provider.close();
  }
}
