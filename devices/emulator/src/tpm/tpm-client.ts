import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EK_CERT_NV_INDEX, EK_HANDLE, type Swtpm } from './swtpm.js';

/** An EK and what its authPolicy takes: PolicySecret(TPM_RH_ENDORSEMENT) in a session of `policyHash`, then, for the high-range templates, PolicyOR over these branches. */
export interface EkPolicy {
  readonly handle: string;
  readonly policyHash: 'sha256' | 'sha384';
  readonly policyOr?: readonly Buffer[];
}

const DEFAULT_EK: EkPolicy = { handle: EK_HANDLE, policyHash: 'sha256' };

/**
 * The ECC NIST P-384 EK swtpm provisions (TCG EK Credential Profile 2.3, template H-3 at 0x81010016): its authPolicy
 * is PolicyOR(PolicyA, PolicyC), PolicyA = PolicySecret(TPM_RH_ENDORSEMENT) and PolicyC the NV-based branch, SHA-384.
 */
export const ECC_P384_EK: EkPolicy = {
  handle: '0x81010016',
  policyHash: 'sha384',
  policyOr: [
    Buffer.from('8bbf2266537c171cb56e403c4dc1d4b64f432611dc386e6f532050c3278c930e143e8bb1133824ccb431053871c6db53', 'hex'),
    Buffer.from('d6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165', 'hex'),
  ],
};

/**
 * Runs `task`, then `cleanup` whatever happened. A cleanup that fails after the task failed does not hide the task's
 * error (the one worth reporting); after a task that succeeded, it is the error.
 */
async function withCleanup<T>(task: () => Promise<T>, cleanup: () => Promise<void>): Promise<T> {
  let result: T;
  try {
    result = await task();
  } catch (error) {
    await cleanup().catch(() => undefined);
    throw error;
  }
  await cleanup();
  return result;
}

/** tpm2-tools' credential file: magic 0xBADCC0DE, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET. */
export function credentialFile(idObject: Buffer, encryptedSecret: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(0xbadcc0de, 0);
  header.writeUInt32BE(1, 4);
  return Buffer.concat([header, idObject, encryptedSecret]);
}

/** The DER certificate at the start of an NV index's contents (the index may be larger than the certificate). */
export function derPrefix(bytes: Buffer): Buffer {
  if (bytes.length < 2 || bytes[0] !== 0x30) throw new Error('the EK certificate index holds no DER SEQUENCE');
  const first = bytes[1]!;
  if (first < 0x80) return bytes.subarray(0, 2 + first);
  const lengthBytes = first & 0x7f;
  if (lengthBytes < 1 || lengthBytes > 3) throw new Error('the EK certificate has an unreasonable length');
  return bytes.subarray(0, 2 + lengthBytes + bytes.readUIntBE(2, lengthBytes));
}

/**
 * The device side of a TPM, through tpm2-tools (the tools a Linux device maker ships): EK certificate and public,
 * an ECDSA P-256 attestation key under the EK, credential activation, PCR extends and quotes. One command at a time
 * (a TPM has one command buffer); each command flushes the transient objects and sessions it loaded, since no
 * resource manager sits between the tools and swtpm.
 */
export class TpmClient {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly tpm: Swtpm,
    /** Scratch folder for the tools' files. */
    private readonly work: string,
  ) {}

  static async open(tpm: Swtpm, parentDir: string): Promise<TpmClient> {
    return new TpmClient(tpm, await mkdtemp(join(parentDir, 'tools-')));
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private tool(command: string, ...args: string[]): Promise<string> {
    return this.tpm.tool(command, args, this.work);
  }

  private async flushTransient(): Promise<void> {
    await this.tool('tpm2_flushcontext', '-t');
  }

  /** The EK certificate (DER) from its NV index. */
  ekCertificate(): Promise<Buffer> {
    return this.serial(async () => {
      await this.tool('tpm2_nvread', EK_CERT_NV_INDEX, '-o', 'ek.der');
      return derPrefix(await readFile(join(this.work, 'ek.der')));
    });
  }

  /** The EK's TPM2B_PUBLIC (`handle`: another EK, such as the ECC one swtpm also provisions). */
  ekPublic(handle = EK_HANDLE): Promise<Buffer> {
    return this.serial(async () => {
      await this.tool('tpm2_readpublic', '-c', handle, '-o', 'ek.pub', '-f', 'tss');
      return readFile(join(this.work, 'ek.pub'));
    });
  }

  /**
   * Creates the AK under the EK with tpm2_createak's template (a restricted signing key, fixedTPM, fixedParent,
   * sensitiveDataOrigin): ECDSA P-256/SHA-256 by default, or RSA-2048 RSASSA/SHA-256. Its TPM2B_PUBLIC.
   */
  createAttestationKey(algorithm: 'ecc' | 'rsa' = 'ecc'): Promise<Buffer> {
    return this.serial(async () => {
      const scheme = algorithm === 'ecc' ? 'ecdsa' : 'rsassa';
      // What tpm2_createak loaded stays loaded if it fails midway: flushed either way.
      await withCleanup(
        () =>
          this.tool(
            'tpm2_createak',
            '-C',
            EK_HANDLE,
            '-c',
            'ak.ctx',
            '-G',
            algorithm,
            '-g',
            'sha256',
            '-s',
            scheme,
            '-u',
            'ak.pub',
            '-n',
            'ak.name',
          ),
        () => this.flushTransient(),
      );
      return readFile(join(this.work, 'ak.pub'));
    });
  }

  /**
   * TPM2_ActivateCredential with the AK and the EK (the EK's use needs a policy session satisfying PolicySecret on
   * the endorsement hierarchy, its template's authPolicy): the credential, which only this TPM could recover.
   */
  activateCredential(idObject: Buffer, encryptedSecret: Buffer, ek: EkPolicy = DEFAULT_EK): Promise<Buffer> {
    const ekHandle = ek.handle;
    return this.serial(async () => {
      await writeFile(join(this.work, 'cred.bin'), credentialFile(idObject, encryptedSecret));
      // The session's hash is the EK's nameAlg: its authPolicy (PolicySecret on the endorsement hierarchy) is a digest of that size.
      await this.tool('tpm2_startauthsession', '--policy-session', '-g', ek.policyHash, '-S', 'session.ctx');
      await withCleanup(
        async () => {
          await this.tool('tpm2_policysecret', '-S', 'session.ctx', '-c', 'e');
          if (ek.policyOr !== undefined) {
            const branches = await Promise.all(
              ek.policyOr.map(async (digest, i) => {
                await writeFile(join(this.work, `branch-${i}.dig`), digest);
                return `branch-${i}.dig`;
              }),
            );
            await this.tool('tpm2_policyor', '-S', 'session.ctx', '-l', `${ek.policyHash}:${branches.join(',')}`);
          }
          await this.tool(
            'tpm2_activatecredential',
            '-c',
            'ak.ctx',
            '-C',
            ekHandle,
            '-i',
            'cred.bin',
            '-o',
            'credential.bin',
            '-P',
            'session:session.ctx',
          );
        },
        // The session and the transient objects, each flushed even when the other cannot be.
        () =>
          withCleanup(
            () => this.tool('tpm2_flushcontext', 'session.ctx').then(() => undefined),
            () => this.flushTransient(),
          ),
      );
      const credential = await readFile(join(this.work, 'credential.bin'));
      await rm(join(this.work, 'credential.bin'));
      return credential;
    });
  }

  /** TPM2_PCR_Extend of the SHA-256 bank. */
  extend(pcr: number, sha256: Buffer): Promise<void> {
    return this.serial(async () => {
      await this.tool('tpm2_pcrextend', `${pcr}:sha256=${sha256.toString('hex')}`);
    });
  }

  /** TPM2_Quote by the AK over SHA-256 PCRs, qualified by `extraData`: the TPMS_ATTEST and its TPMT_SIGNATURE. */
  quote(pcrs: readonly number[], extraData: Buffer): Promise<{ quote: Buffer; signature: Buffer }> {
    return this.serial(async () => {
      await withCleanup(
        () =>
          this.tool(
            'tpm2_quote',
            '-c',
            'ak.ctx',
            '-l',
            `sha256:${pcrs.join(',')}`,
            '-q',
            extraData.toString('hex'),
            '-m',
            'quote.msg',
            '-s',
            'quote.sig',
            '-g',
            'sha256',
          ),
        () => this.flushTransient(),
      );
      return { quote: await readFile(join(this.work, 'quote.msg')), signature: await readFile(join(this.work, 'quote.sig')) };
    });
  }

  /**
   * TPM2_Shutdown(CLEAR) before the power goes: an orderly shutdown. Without it each power cycle counts as a
   * dictionary-attack failure on the next startup, and after a few reboots the TPM locks its AK out (TPM_RC_LOCKOUT).
   */
  orderlyShutdown(): Promise<void> {
    return this.serial(async () => {
      await this.tool('tpm2_shutdown', '-c');
    });
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await rm(this.work, { recursive: true, force: true });
  }
}
