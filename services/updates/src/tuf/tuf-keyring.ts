import { randomBytes } from 'node:crypto';
import { SigningUnavailableError, signingOrUnavailable } from '@rampart/service-kit/signing';
import {
  ONLINE_ROLES,
  ProviderTufSigner,
  algorithmOfTufKey,
  keyLabel,
  tufKeyFromJson,
  tufKeyOf,
  type KeyAlgorithm,
  type KeyProvider,
  type OnlineGrants,
  type TufSigner,
} from '@rampart/trust';
import { afterCommit, type Tx } from '../persistence/transactions.js';
import type { OnlineRole, SigningRole, StoredTufKey, TufMetadataRepository } from './tuf-metadata.repository.js';

/**
 * The tenants' TUF signing keys, all held by one key provider: the online
 * roles' (targets, snapshot, timestamp, director; `rampart/<tenant>/tuf-<role>`)
 * and, with the software provider only, the root keys. With pkcs11 the
 * platform holds no root key: roots are signed offline and imported. The
 * database lists which key each role uses (public key, label, provider); the
 * provider signs. Ed25519 where the provider has it, else ECDSA P-256.
 */
export class TufKeyring {
  /**
   * Labels whose key in the provider was checked to be the key the database lists, with that key's id (once per
   * process and key). Kept only once the transaction that listed or read the key commits: a check made in one that
   * rolled back stands for a row that never was, and another replica may list another key under the label.
   */
  readonly #checked = new Map<string, string>();

  constructor(
    private readonly provider: KeyProvider,
    private readonly repository: TufMetadataRepository,
  ) {}

  get providerKind(): KeyProvider['kind'] {
    return this.provider.kind;
  }

  /** Whether the platform keeps tenants' root keys (software, development) or roots are signed offline and imported (pkcs11). */
  get holdsRootKeys(): boolean {
    return this.provider.kind === 'software';
  }

  /** Whether the tenant's online role keys exist. */
  async hasOnlineKeys(tenantId: string, tx?: Tx): Promise<boolean> {
    return (await this.repository.activeKeys(tenantId, 'timestamp', tx)).length > 0;
  }

  /**
   * Makes the tenant's online role keys in the provider and lists them; the
   * caller holds the tenant's lock. A key already under the label (made by a
   * run that failed before it was listed) is taken, not made twice.
   */
  async makeOnlineKeys(tenantId: string, tx: Tx): Promise<void> {
    const algorithm = await this.algorithm();
    for (const role of ONLINE_ROLES) {
      const label = keyLabel({ tenant: tenantId }, `tuf-${role}`);
      await this.list(tenantId, role, label, algorithm, tx, true);
    }
  }

  /** Makes `count` fresh root keys (software provider only) and lists them; their labels are new each time, so a rotation never reuses one. */
  async makeRootKeys(tenantId: string, count: number, tx: Tx): Promise<TufSigner[]> {
    if (!this.holdsRootKeys) throw new Error('root keys are offline with this key provider');
    const algorithm = await this.algorithm();
    const signers: TufSigner[] = [];
    for (let i = 0; i < count; i++) {
      const label = keyLabel({ tenant: tenantId }, `tuf-root-${randomBytes(8).toString('hex')}`);
      signers.push(await this.list(tenantId, 'root', label, algorithm, tx, false));
    }
    return signers;
  }

  /** The signers of a role's active keys, oldest first. */
  async signers(tenantId: string, role: SigningRole, tx?: Tx): Promise<TufSigner[]> {
    const keys = await this.repository.activeKeys(tenantId, role, tx);
    if (keys.length === 0) throw new Error(`tenant ${tenantId} has no ${role} key`);
    return keys.map((stored) => this.signerOf(stored, tx));
  }

  /** The one signer of an online role. */
  async signer(tenantId: string, role: OnlineRole, tx?: Tx): Promise<TufSigner> {
    const [signer] = await this.signers(tenantId, role, tx);
    return signer!;
  }

  /** The online roles' keys as a root lists them (threshold 1 each): what an offline root must name, and all it may. */
  async onlineGrants(tenantId: string, tx?: Tx): Promise<OnlineGrants> {
    const keys: Record<string, StoredTufKey['tufKey']> = {};
    const roles = {} as Record<OnlineRole, { keyids: string[]; threshold: number }>;
    for (const role of ONLINE_ROLES) {
      const stored = await this.repository.activeKeys(tenantId, role, tx);
      for (const key of stored) keys[key.keyId] = key.tufKey;
      roles[role] = { keyids: stored.map((k) => k.keyId), threshold: 1 };
    }
    return { keys, roles };
  }

  /** Readiness: whether the provider can sign now (for pkcs11: the token is there and logged in). */
  async ready(): Promise<void> {
    const readiness = await this.provider.ready();
    if (!readiness.ready) throw new Error(`TUF signing keys (${this.provider.kind}): ${readiness.reason}`);
  }

  /** Nest calls this when the service stops: the provider's sessions (a token's logins) end with it. */
  onModuleDestroy(): Promise<void> {
    return this.provider.close();
  }

  private async algorithm(): Promise<KeyAlgorithm> {
    return this.guard(undefined, async () => ((await this.provider.supports('ed25519')) ? 'ed25519' : 'ecdsa-p256'));
  }

  private async list(
    tenantId: string,
    role: SigningRole,
    label: string,
    algorithm: KeyAlgorithm,
    tx: Tx,
    adoptExisting: boolean,
  ): Promise<TufSigner> {
    const signer = await this.guard(label, async () => {
      const existing = adoptExisting ? await this.provider.find(label) : undefined;
      return ProviderTufSigner.open(this.provider, existing ?? (await this.provider.generate(label, algorithm)));
    });
    await this.repository.saveKey(
      { keyId: signer.key.keyID, label, provider: this.provider.kind, tufKey: signer.key.toJSON() as unknown as StoredTufKey['tufKey'] },
      tenantId,
      role,
      tx,
    );
    const keyId = signer.key.keyID;
    afterCommit(tx, () => this.#checked.set(label, keyId));
    return this.guarded(signer, label);
  }

  private signerOf(stored: StoredTufKey, tx: Tx | undefined): TufSigner {
    const { label } = stored;
    if (label === null) {
      throw new SigningUnavailableError(
        `TUF key ${stored.keyId.slice(0, 12)}… was sealed before the key provider and is not re-sealed yet: start once with KEYS_PROVIDER=software and its key-encryption key`,
        { key: stored.keyId },
      );
    }
    if (stored.provider !== this.provider.kind) {
      throw new SigningUnavailableError(
        `TUF key ${label} is held by the ${stored.provider} key provider; this service runs with KEYS_PROVIDER=${this.provider.kind}`,
        { key: label },
      );
    }
    const algorithm = algorithmOfTufKey(stored.tufKey);
    if (algorithm === undefined)
      throw new SigningUnavailableError(`TUF key ${label} is a ${stored.tufKey.keytype} key: not one signed with here`, { key: label });
    const key = tufKeyFromJson(stored.keyId, stored.tufKey);
    const inner = new ProviderTufSigner(this.provider, { label, algorithm }, key);
    return {
      key,
      sign: async (data) => {
        if (this.#checked.get(label) !== stored.keyId) {
          // A token re-initialised with a new key under the old label would sign what no device accepts: say so instead.
          const held = await this.guard(label, async () => tufKeyOf(await this.provider.publicKey(label)));
          if (held.keyID !== stored.keyId) {
            throw new SigningUnavailableError(
              `the key under ${label} is not the key ${stored.keyId.slice(0, 12)}… the tenant's root lists`,
              { key: label },
            );
          }
          afterCommit(tx, () => this.#checked.set(label, stored.keyId));
        }
        return this.guard(label, () => inner.sign(data));
      },
    };
  }

  private guarded(signer: TufSigner, label: string): TufSigner {
    return { key: signer.key, sign: (data) => this.guard(label, () => signer.sign(data)) };
  }

  /** A provider's refusal as the shared named error (503, fixed words on the wire), the provider's own error kept as its cause. */
  private guard<T>(key: string | undefined, run: () => Promise<T>): Promise<T> {
    return signingOrUnavailable(run, key);
  }
}
