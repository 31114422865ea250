// tpm-quote: platform CPU per TPM 2.0 attestation, in process on one core, against the PSA token (RFC 9783) of the
// emulated MCU measured in the same run, both through the same EvidenceVerifier (authenticator, then policy). A TPM attestation costs the platform two steps: the challenge (the EK
// certificate chained to its vendor root, the AK checked, a nonce, MakeCredential: RSA-OAEP to the EK, KDFa,
// AES-CFB, HMAC; the nonce sealed) and the evidence (both certificates again — the platform keeps no state between
// the two —, the quote's ECDSA signature, the event log replayed, the PCR digest, then the shared policy). The quote
// comes from a real swtpm through tpm2-tools; it is verified many times over a nonce store that never remembers a
// spend (spending is a database round trip, not CPU, and is the same for both kinds).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChallengeSeal,
  createAuthenticators,
  EvidenceVerifier,
  ManufacturerEndorsement,
  SealedNonceStore,
  Tpm2ChallengeIssuer,
  Tpm2QuoteAuthenticator,
  TpmVendorEndorsement,
  measurementKey,
} from '@rampart/attestation';
import {
  TpmDevice,
  createPsaEvidence,
  demoBootState,
  demoFirmware,
  firmwareStages,
  manufactureDevice,
  manufactureTpmDevice,
  storeTpmVendorCa,
} from '@rampart/emulator';
import { CertificateAuthority } from '@rampart/trust';
import { writeReport } from './lib/report.js';

const ITERATIONS = Number(process.env.BENCH_TPM_ITERATIONS ?? 2000);

/** CPU microseconds (user + system) per call of `task`, after a warm-up. */
async function cpuPerCall(task, iterations = ITERATIONS) {
  for (let i = 0; i < Math.min(100, iterations); i += 1) await task(i);
  const before = process.cpuUsage();
  for (let i = 0; i < iterations; i += 1) await task(i);
  const used = process.cpuUsage(before);
  return Math.round(((used.user + used.system) / iterations) * 10) / 10;
}

export async function run() {
  const dir = await mkdtemp(join(tmpdir(), 'rampart-bench-tpm-'));
  const vendor = await CertificateAuthority.create('Bench TPM Vendor');
  const manufacturer = await CertificateAuthority.create('Bench Manufacturer');
  const vendorCa = await vendor.export();
  const identity = await manufactureTpmDevice(join(dir, 'device'), await storeTpmVendorCa(join(dir, 'vendor'), vendorCa), manufacturer);
  const stages = firmwareStages(demoFirmware());
  const device = await TpmDevice.boot(identity, stages);
  try {
    const secret = randomBytes(32);
    const forgetful = { spend: () => Promise.resolve(true) };
    const nonces = new SealedNonceStore(secret, 60_000, forgetful);
    const endorsement = new ManufacturerEndorsement([manufacturer.certificatePem]);
    const vendors = new TpmVendorEndorsement([vendor.certificatePem]);
    const seal = new ChallengeSeal(secret);
    const authenticator = new Tpm2QuoteAuthenticator(vendors, endorsement, seal);
    const issuer = new Tpm2ChallengeIssuer(vendors, seal, nonces);
    const verifier = new EvidenceVerifier(createAuthenticators(endorsement, authenticator));
    const policy = {
      measurements: new Map(stages.map((s) => [measurementKey(s.stage, s.sha256), 'released'])),
      floors: new Map([['os', 1]]),
    };
    const context = (now) => ({
      now,
      nonces,
      policy: () => Promise.resolve(policy),
      device: () => Promise.resolve({ claimedBy: 'bench', revoked: false }),
    });

    // The TPM's side, once: a real challenge, activation and quote.
    const request = await device.attestationRequest();
    const now = Date.now();
    const challenge = async () => {
      const issued = await issuer.issue(device.deviceId, request, now);
      if ('reason' in issued) throw new Error(issued.detail);
      return issued;
    };
    const evidence = Buffer.from(JSON.stringify(await device.evidenceFor(request, await challenge())));
    const check = await verifier.verify(evidence, context(now));
    if (!check.pass) throw new Error(`the bench's own quote was refused: ${check.reasons.join()}`);

    const challengeMicros = await cpuPerCall(() => challenge());
    const evidenceMicros = await cpuPerCall(async () => {
      const verdict = await verifier.verify(evidence, context(now));
      if (!verdict.pass) throw new Error(verdict.reasons.join());
    });

    // The baseline: the MCU's PSA token, verified the same way.
    const mcu = await manufactureDevice(manufacturer);
    const { nonce } = await nonces.issue(mcu.security.deviceId, now);
    const boot = demoBootState();
    const mcuPolicy = {
      measurements: new Map(boot.bootLog.map((m) => [measurementKey(m.stage, m.sha256), 'released'])),
      floors: new Map(),
    };
    const mcuEvidence = Buffer.from(JSON.stringify(createPsaEvidence(mcu.security, mcu.identityCertificatePem, nonce, boot)));
    const mcuContext = { ...context(now), policy: () => Promise.resolve(mcuPolicy) };
    const mcuMicros = await cpuPerCall(async () => {
      const verdict = await verifier.verify(mcuEvidence, mcuContext);
      if (!verdict.pass) throw new Error(verdict.reasons.join());
    });
    const tpmMicros = Math.round((challengeMicros + evidenceMicros) * 10) / 10;
    return writeReport({
      name: 'tpm-quote',
      value: tpmMicros,
      unit: 'µs platform CPU per attestation (one core, in process)',
      baseline: 'PSA token (emulated MCU)',
      baseline_value: mcuMicros,
      tpmChallengeMicros: challengeMicros,
      tpmEvidenceMicros: evidenceMicros,
      tpmAttestationsPerCoreSecond: Math.round(1e6 / tpmMicros),
      iterations: ITERATIONS,
    });
  } finally {
    await device.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
}
