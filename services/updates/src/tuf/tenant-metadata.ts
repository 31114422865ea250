import { createHash } from 'node:crypto';
import type { Counter, Meter } from '@opentelemetry/api';
import {
  DIRECTOR_ROLE,
  MetadataFile,
  OfflineRootError,
  metadataBytes,
  parseRootMetadata,
  signDirectorTargets,
  signRoot,
  signSnapshot,
  signTargets,
  signTimestamp,
  summarizeRoot,
  verifyImportedRoot,
  type ImageTarget,
  type OnlineGrants,
  type RoleGrants,
  type RootMetadata,
  type RootPolicy,
  type RootSummary,
  type TufSigner,
} from '@rampart/trust';
import type { Logger } from '@rampart/service-kit';
import type { ImageRow, ImagesRepository } from '../images/images.repository.js';
import type { Transactions, Tx } from '../persistence/transactions.js';
import {
  MetadataFileNotFoundError,
  OfflineRootsNotTakenError,
  RootKeysOfflineError,
  RootRejectedError,
  TufRootMissingError,
} from './tuf-errors.js';
import type { TufKeyring } from './tuf-keyring.js';
import type { OnlineRole, TufMetadataRepository } from './tuf-metadata.repository.js';

/** How long each role's metadata lives; the online roles are re-signed before they expire. */
export interface MetadataLifetimes {
  readonly rootDays: number;
  readonly targetsDays: number;
  readonly snapshotDays: number;
  readonly timestampHours: number;
  readonly directorHours: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Whether two roots are the same document: the same signed part and the same signatures. */
function sameRoot(a: RootMetadata, b: RootMetadata): boolean {
  return metadataBytes(a).equals(metadataBytes(b));
}

export function imageTarget(image: ImageRow): ImageTarget {
  return {
    path: `images/${image.sha256}`,
    length: image.size,
    sha256: image.sha256,
    custom: {
      component: image.component,
      version: image.version,
      securityVersion: image.securityVersion,
      hardware: image.hardware,
      measurement: image.measurement,
    },
  };
}

/**
 * Each tenant's TUF repository in PostgreSQL: every version of root, the
 * latest targets, snapshot and timestamp, and the director's targets for
 * each device; every signature is made by the key provider (`TufKeyring`).
 * With the software provider the platform also holds the root keys and signs
 * root version 1 itself; with pkcs11 it holds none, and a repository waits
 * for an offline-signed root (`importRoot`). Every change takes the tenant's
 * advisory lock, so two replicas never sign two different metadata of the
 * same version.
 */
export class TenantMetadata {
  private readonly refusedImports: Counter;

  constructor(
    private readonly transactions: Transactions,
    private readonly repository: TufMetadataRepository,
    private readonly keyring: TufKeyring,
    private readonly images: ImagesRepository,
    private readonly lifetimes: MetadataLifetimes,
    private readonly rootPolicy: RootPolicy,
    private readonly logger: Logger,
    meter: Meter,
  ) {
    if (!(rootPolicy.threshold >= 1 && rootPolicy.threshold <= rootPolicy.keys)) throw new RangeError('root threshold must be 1..keys');
    this.refusedImports = meter.createCounter('rampart_updates_root_imports_refused_total', {
      description: 'Offered TUF roots refused, by reason',
    });
  }

  /**
   * A tenant's repository exists once this resolves: its online role keys;
   * with root keys held here also root version 1 and the first targets,
   * snapshot and timestamp (with offline roots those follow the import).
   */
  async ensure(tenantId: string): Promise<void> {
    if (await this.keyring.hasOnlineKeys(tenantId)) return;
    await this.transactions.run(async (tx) => {
      await this.repository.lockTenant(tenantId, tx);
      if (await this.keyring.hasOnlineKeys(tenantId, tx)) return;
      await this.keyring.makeOnlineKeys(tenantId, tx);
      if (!this.keyring.holdsRootKeys) return;
      const rootKeys = await this.keyring.makeRootKeys(tenantId, this.rootPolicy.keys, tx);
      const root = await signRoot(
        1,
        new Date(Date.now() + this.lifetimes.rootDays * DAY),
        await this.grants(tx, tenantId, rootKeys),
        rootKeys,
      );
      await this.repository.saveMetadata(tenantId, 'root', 1, metadataBytes(root), new Date(root.signed.expires), tx);
      await this.publishLocked(tx, tenantId);
    });
  }

  /** Whether the tenant's repository has a root (made here, or imported). */
  async hasRoot(tenantId: string, tx?: Tx): Promise<boolean> {
    return (await this.repository.latestVersion(tenantId, 'root', tx)) !== undefined;
  }

  /**
   * Signs new targets (the tenant's released images), snapshot and
   * timestamp: after a release or a revocation. TufRootMissingError while
   * the tenant's offline root has not been imported.
   */
  async publish(tenantId: string, tx: Tx): Promise<void> {
    await this.repository.lockTenant(tenantId, tx);
    if (!(await this.hasRoot(tenantId, tx))) throw new TufRootMissingError(tenantId);
    await this.publishLocked(tx, tenantId);
  }

  /** The online roles' keys, as `rampart ceremony tuf-root make --online-keys` reads them. */
  async onlineKeys(tenantId: string): Promise<OnlineGrants> {
    await this.ensure(tenantId);
    return this.keyring.onlineGrants(tenantId);
  }

  /**
   * Takes an offline-signed root: version 1 signed by a threshold of its own
   * root keys, a later one the §5.3.4 step from the newest stored root;
   * unexpired; its online roles exactly this platform's keys. Stored and
   * served at once (with the first, the first targets, snapshot and
   * timestamp are signed in the same transaction). A refusal stores nothing,
   * is logged and counted, and says which check failed.
   */
  async importRoot(tenantId: string, text: string): Promise<RootSummary> {
    await this.ensure(tenantId);
    try {
      if (this.keyring.holdsRootKeys) {
        throw new OfflineRootsNotTakenError(
          'root refused (root-keys-online): this install keeps its tenants’ root keys itself (KEYS_PROVIDER=software); offline roots are imported with KEYS_PROVIDER=pkcs11',
        );
      }
      const root = parseRootMetadata(text);
      return await this.transactions.run(async (tx) => {
        await this.repository.lockTenant(tenantId, tx);
        const newest = await this.repository.newestRoot(tenantId, tx);
        const trusted = newest === undefined ? undefined : parseRootMetadata(newest);
        // The same root again (a retry after a lost answer) is already imported: answered as it was, nothing changes.
        if (trusted !== undefined && sameRoot(trusted, root)) return summarizeRoot(trusted);
        verifyImportedRoot(root, {
          trusted,
          online: await this.keyring.onlineGrants(tenantId, tx),
          policy: this.rootPolicy,
          now: new Date(),
        });
        const version = root.signed.version;
        await this.repository.saveMetadata(tenantId, 'root', version, metadataBytes(root), new Date(root.signed.expires), tx);
        if (trusted === undefined) await this.publishLocked(tx, tenantId);
        this.logger.info({ tenantId, version }, 'offline-signed TUF root imported');
        return summarizeRoot(root);
      });
    } catch (error) {
      const refusal = error instanceof OfflineRootError ? new RootRejectedError(error.reason, error.message, { cause: error }) : error;
      if (refusal instanceof RootRejectedError || refusal instanceof OfflineRootsNotTakenError) {
        this.logger.warn({ tenantId, reason: refusal.reason, err: refusal.message }, 'TUF root import refused');
        this.refusedImports.add(1, { reason: refusal.reason });
      }
      throw refusal;
    }
  }

  /**
   * Re-signs what is about to expire: the timestamp once half its life is
   * gone, targets and snapshot within a day of expiry (a new timestamp
   * follows each). Returns the tenants whose metadata changed.
   */
  async refreshExpiring(now = Date.now()): Promise<string[]> {
    const due = await this.repository.tenantsExpiring(new Date(now + (this.lifetimes.timestampHours * HOUR) / 2), new Date(now + DAY));
    // One tenant that cannot be signed for (its key missing from the token) must not freeze every other tenant's metadata.
    let failure: Error | undefined;
    for (const tenantId of due) {
      try {
        await this.transactions.run((tx) => this.publish(tenantId, tx));
      } catch (error) {
        this.logger.warn({ err: error, tenantId }, 'expiring metadata not re-signed');
        failure ??= error instanceof Error ? error : new Error(String(error));
      }
    }
    if (failure !== undefined) throw failure;
    return due;
  }

  /**
   * Root rotation: fresh root keys; root version N+1 lists them and is signed
   * by the old root keys and the new, so a device that trusts version N can
   * verify the step. The old root keys are retired.
   */
  async rotateRoot(tenantId: string): Promise<number> {
    if (!this.keyring.holdsRootKeys) {
      throw new RootKeysOfflineError(
        'the root keys are offline: sign the next root by the ceremony and import it (rampart tuf root import)',
      );
    }
    await this.ensure(tenantId);
    return this.transactions.run(async (tx) => {
      await this.repository.lockTenant(tenantId, tx);
      const oldKeys = await this.keyring.signers(tenantId, 'root', tx);
      await this.repository.retireRootKeys(tenantId, tx);
      const newKeys = await this.keyring.makeRootKeys(tenantId, this.rootPolicy.keys, tx);
      const version = ((await this.repository.latestVersion(tenantId, 'root', tx)) ?? 0) + 1;
      const root = await signRoot(version, new Date(Date.now() + this.lifetimes.rootDays * DAY), await this.grants(tx, tenantId, newKeys), [
        ...oldKeys,
        ...newKeys,
      ]);
      await this.repository.saveMetadata(tenantId, 'root', version, metadataBytes(root), new Date(root.signed.expires), tx);
      return version;
    });
  }

  /**
   * The tenant's newest root, exactly as served: what a device is given
   * when it is claimed and pins (TUF §5.2: the first root is provisioned,
   * never fetched). Makes the repository first if the tenant has none yet.
   */
  async currentRoot(tenantId: string): Promise<string> {
    await this.ensure(tenantId);
    const root = await this.repository.newestRoot(tenantId);
    if (root === undefined) throw new TufRootMissingError(tenantId);
    return root;
  }

  /**
   * A metadata file as an operator reads it: parsed, and made first if the tenant has no repository yet;
   * MetadataFileNotFoundError when there is no such file.
   */
  async document(tenantId: string, name: string): Promise<unknown> {
    await this.ensure(tenantId);
    if (!(await this.hasRoot(tenantId))) throw new TufRootMissingError(tenantId);
    const body = await this.file(tenantId, name);
    if (body === undefined) throw new MetadataFileNotFoundError(`no ${name}`);
    return JSON.parse(body.toString('utf8')) as unknown;
  }

  /** A metadata file as a device asks for it, or undefined. */
  async file(tenantId: string, name: string): Promise<Buffer | undefined> {
    const rootVersion = /^([1-9][0-9]{0,8})\.root\.json$/.exec(name)?.[1];
    const role =
      rootVersion !== undefined
        ? 'root'
        : ({ [MetadataFile.timestamp]: 'timestamp', [MetadataFile.snapshot]: 'snapshot', [MetadataFile.targets]: 'targets' } as const)[
            name
          ];
    if (role === undefined) return undefined;
    const body = await this.repository.body(tenantId, role, rootVersion === undefined ? undefined : Number(rootVersion));
    return body === undefined ? undefined : Buffer.from(body);
  }

  /**
   * The director's targets for one device — what it should run, and
   * `fields` (the deployment) — signed under a version one above the last
   * this device was given. The same answer again, with more than half its
   * life left, is the stored one (a device polling does not sign anew).
   */
  async direct(
    tenantId: string,
    deviceId: string,
    images: readonly ImageRow[],
    fields: Readonly<Record<string, string | number | boolean | null>>,
  ): Promise<Buffer> {
    await this.ensure(tenantId);
    if (!(await this.hasRoot(tenantId))) throw new TufRootMissingError(tenantId);
    const targets = images.map(imageTarget);
    const digest = createHash('sha256').update(JSON.stringify({ tenantId, targets, fields })).digest('hex');
    const lifetime = this.lifetimes.directorHours * HOUR;
    return this.transactions.run(async (tx) => {
      const last = await this.repository.directorTargetsForUpdate(deviceId, tx);
      if (last !== undefined && last.digest === digest && new Date(last.expires_at).getTime() - Date.now() > lifetime / 2) {
        return Buffer.from(last.body);
      }
      const signer = await this.keyring.signer(tenantId, DIRECTOR_ROLE, tx);
      const version = (last?.version ?? 0) + 1;
      const expires = new Date(Date.now() + lifetime);
      const body = metadataBytes(await signDirectorTargets(version, expires, deviceId, targets, fields, signer));
      await this.repository.saveDirectorTargets({ deviceId, tenantId, version, digest, body, expires }, tx);
      return body;
    });
  }

  private async publishLocked(tx: Tx, tenantId: string): Promise<void> {
    const released = await this.images.released(tenantId, tx);
    const next = async (role: OnlineRole) => ((await this.repository.latestVersion(tenantId, role, tx)) ?? 0) + 1;
    const targetsKey = await this.keyring.signer(tenantId, 'targets', tx);
    const snapshotKey = await this.keyring.signer(tenantId, 'snapshot', tx);
    const timestampKey = await this.keyring.signer(tenantId, 'timestamp', tx);
    const now = Date.now();
    const targetsVersion = await next('targets');
    const targets = metadataBytes(
      await signTargets(targetsVersion, new Date(now + this.lifetimes.targetsDays * DAY), released.map(imageTarget), targetsKey),
    );
    const snapshotVersion = await next('snapshot');
    const snapshot = metadataBytes(
      await signSnapshot(snapshotVersion, new Date(now + this.lifetimes.snapshotDays * DAY), targets, targetsVersion, snapshotKey),
    );
    const timestampVersion = await next('timestamp');
    const timestampExpires = new Date(now + this.lifetimes.timestampHours * HOUR);
    const timestamp = metadataBytes(await signTimestamp(timestampVersion, timestampExpires, snapshot, snapshotVersion, timestampKey));
    await this.repository.saveMetadata(tenantId, 'targets', targetsVersion, targets, new Date(now + this.lifetimes.targetsDays * DAY), tx);
    await this.repository.saveMetadata(
      tenantId,
      'snapshot',
      snapshotVersion,
      snapshot,
      new Date(now + this.lifetimes.snapshotDays * DAY),
      tx,
    );
    await this.repository.saveMetadata(tenantId, 'timestamp', timestampVersion, timestamp, timestampExpires, tx);
    // Only the latest online metadata is ever served; older versions need not be kept.
    await this.repository.pruneOnline(tenantId, timestampVersion - 10, tx);
  }

  private async grants(tx: Tx, tenantId: string, rootKeys: readonly TufSigner[]): Promise<RoleGrants> {
    const online = async (role: OnlineRole) => (await this.keyring.signers(tenantId, role, tx)).map((k) => k.key);
    return {
      root: { keys: rootKeys.map((k) => k.key), threshold: this.rootPolicy.threshold },
      targets: await online('targets'),
      snapshot: await online('snapshot'),
      timestamp: await online('timestamp'),
      director: await online(DIRECTOR_ROLE),
    };
  }
}
