import { rename, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Subject } from '@rampart/contracts';
import { createPsaEvidence, demoBootState, type ManufacturedDevice } from '@rampart/emulator';
import type { TypedBus } from '@rampart/service-kit';
import { SOFTHSM2_MODULE, TEST_NATS_URL, attestationTestEnv, type SoftHsmToken, type TestPki } from '@rampart/testing';
import { ISSUING_CA_KEY_LABEL, Pkcs11KeyProvider, createIssuingCsr, signIssuingCa, type CreatedOfflineRoot } from '@rampart/trust';

/**
 * The harness of the end-to-end tests with the platform's CA keys in a
 * SoftHSM2 token (three tiers): the ceremony's steps, the attestation
 * service's settings, what the gateway asks and the readiness probe.
 */

/** Where the tests say relying parties reach the attestation service: the CRL distribution points name it. */
export const HSM_PUBLIC_BASE_URL = 'http://attestation.test';

/** The ceremony's online step (a CSR from the issuing key in the token) and its offline step (the root signs it). */
export async function issuingCaUnder(softHsm: SoftHsmToken, root: CreatedOfflineRoot): Promise<string> {
  const provider = Pkcs11KeyProvider.open({ modulePath: SOFTHSM2_MODULE, tokenLabel: softHsm.label, pinFile: softHsm.pinFile });
  try {
    const csr = await createIssuingCsr(provider, ISSUING_CA_KEY_LABEL, 'CN=Rampart Platform Issuing CA');
    return await signIssuingCa({
      root: root.root,
      csrPem: csr.csrPem,
      crlDistributionPoint: `${HSM_PUBLIC_BASE_URL}/v1/platform/root-crl`,
    });
  } finally {
    await provider.close();
  }
}

export interface ThreeTierSettings {
  readonly databaseUrl: string;
  readonly prefix: string;
  readonly pki: TestPki;
  readonly operatorToken: string;
  readonly softHsm: SoftHsmToken;
  /** The ceremony's files, as the operator mounts them. */
  readonly issuingCertFile: string;
  readonly rootCertFile: string;
  readonly rootCrlFile?: string;
  /** The PIN file the service reads; the token's own by default. */
  readonly pinFile?: string;
}

/** The attestation service's environment in three tiers with KEYS_PROVIDER=pkcs11 (no PLATFORM_CA_KEY_FILE: it is refused). */
export function threeTierEnv(settings: ThreeTierSettings): Record<string, string> {
  const { PLATFORM_CA_KEY_FILE: _twoTierOnly, ...env } = attestationTestEnv({
    databaseUrl: settings.databaseUrl,
    natsUrl: TEST_NATS_URL,
    prefix: settings.prefix,
    pki: settings.pki,
    operatorToken: settings.operatorToken,
  });
  return {
    ...env,
    ...settings.softHsm.env,
    KEYS_PROVIDER: 'pkcs11',
    PKCS11_MODULE: SOFTHSM2_MODULE,
    PKCS11_TOKEN_LABEL: settings.softHsm.label,
    PKCS11_PIN_FILE: settings.pinFile ?? settings.softHsm.pinFile,
    PLATFORM_CA_CERT_FILE: settings.issuingCertFile,
    PLATFORM_ROOT_CERT_FILE: settings.rootCertFile,
    ...(settings.rootCrlFile === undefined ? {} : { PLATFORM_ROOT_CRL_FILE: settings.rootCrlFile }),
  };
}

/** An attestation over the bus, as the gateway asks it: the reply, or the bus error when it is refused. */
export async function attestOverBus(typed: TypedBus, device: ManufacturedDevice) {
  const { nonce } = await typed.request(Subject.attestationNonceIssue, { deviceId: device.security.deviceId });
  const evidence = JSON.stringify(createPsaEvidence(device.security, device.identityCertificatePem, nonce, demoBootState()));
  return typed.request(Subject.attestationEvidenceVerify, { deviceId: device.security.deviceId, evidence });
}

export interface ReadinessAnswer {
  readonly status: number;
  readonly body: { readonly checks: Record<string, { ok: boolean; error?: string }> };
}

export async function readinessOf(url: string): Promise<ReadinessAnswer> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as ReadinessAnswer['body'] };
}

/**
 * Pulls the token as a USB token is pulled: its folder moves out of
 * SoftHSM2's token directory (to `parkedAt`). Returns what puts it back.
 */
export async function pullToken(softHsm: SoftHsmToken, parkedAt: string): Promise<() => Promise<void>> {
  const [tokenFolder] = await readdir(softHsm.tokenDir);
  if (tokenFolder === undefined) throw new Error(`no token in ${softHsm.tokenDir}`);
  await rename(join(softHsm.tokenDir, tokenFolder), parkedAt);
  return () => rename(parkedAt, join(softHsm.tokenDir, tokenFolder));
}
