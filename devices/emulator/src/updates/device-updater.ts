import {
  MetadataFile,
  MetadataRefusedError,
  UpdateMetadataClient,
  type DirectedTarget,
  type ImageComponent,
  type MetadataFetch,
  type TrustedMetadata,
} from '@rampart/trust';
import { HARDWARE_FUSE } from '../mcu/secure-boot.js';
import type { DeviceStateStore } from '../mcu/state-store.js';
import type { SecureOs } from '../os/secure-os.js';
import type { UpdateOutcome } from '../os/update-agent.js';
import { DownloadError, type UpdateClient } from './update-client.js';

const TRUSTED_ENTRY = 'update-metadata';
const REPORT_ENTRY = 'update-report';

/**
 * Provisions a device with its tenant's TUF root (the one its claim
 * answered with): written to the device's storage as the root it trusts,
 * as a factory or a claiming tool writes it over a wired link. TUF §5.2
 * wants the first root provisioned, never fetched: a device that trusted
 * whatever `1.root.json` it first downloaded would trust any server that
 * got in the way of that first download. A device that already trusts a
 * root keeps it (newer ones reach it only by the signed root chain);
 * answers whether this one was written. Throws on anything that is not
 * root metadata.
 */
export function provisionUpdateRoot(store: DeviceStateStore, deviceId: string, rootJson: string): boolean {
  if (store.read(TRUSTED_ENTRY) !== undefined) return false;
  // Parses it as root metadata (and refuses anything else) before a byte is kept.
  const trusted: TrustedMetadata = new UpdateMetadataClient({ root: rootJson }, deviceId).trustedMetadata;
  store.write(TRUSTED_ENTRY, Buffer.from(JSON.stringify(trusted)));
  return true;
}

/** Why a device with no provisioned root refuses every update. */
export const NO_TRUSTED_ROOT = 'no-trusted-root';

/** What the device last told (or has still to tell) a deployment. */
interface DeploymentReport {
  readonly deploymentId: string;
  readonly state: 'installed' | 'failed';
  readonly detail: string;
  readonly sent: boolean;
}

export type UpdateCheck =
  | { readonly result: 'up-to-date'; readonly deployment: string | null }
  | { readonly result: 'updated'; readonly deployment: string | null; readonly outcomes: readonly UpdateOutcome[] }
  | { readonly result: 'refused'; readonly reason: string; readonly detail: string }
  | { readonly result: 'deferred'; readonly deployment: string; readonly minutes: number };

/**
 * The device's say on an offered deployment before anything is downloaded: minutes to put it off (as an
 * Azure Sphere app could defer an update while busy), or undefined to go ahead. The platform offers it again
 * after that, and never later than a day after its first offer.
 */
export type DeferralPolicy = (offer: { readonly deployment: string; readonly components: readonly ImageComponent[] }) => number | undefined;

/**
 * The device side of an update: verify the tenant's signed metadata and the
 * director's targets for this device (TUF + Uptane checks), then for every
 * component the director wants changed, download the image (bounded,
 * hashed, resumable) and hand it to the secure OS's update agent (which
 * checks the signature against the fuses, installs into the inactive slot,
 * reboots, health-checks, commits or rolls back). Refused metadata or a
 * bad download leaves the active slot untouched and is reported — to the
 * failures service as an update failure and to the deployment.
 *
 * The first root is provisioned (`provisionUpdateRoot`, at claim), never
 * fetched; every later one must be signed by the root before it, so a
 * server offering a root not chained from it is refused. A device with no
 * root refuses to update at all.
 */
/** The update server's normal path (operational certificate) or its recovery path (IDevID). */
type CheckPath = 'update' | 'recovery';

function noop(): void {}

export class DeviceUpdater {
  /** The check in progress and which path it takes. */
  private running: { readonly path: CheckPath; readonly check: Promise<UpdateCheck> } | undefined;

  constructor(
    private readonly deviceId: string,
    private readonly os: SecureOs,
    private readonly client: UpdateClient,
    private readonly store: DeviceStateStore,
    private readonly now: () => Date = () => new Date(),
    private readonly deferral?: DeferralPolicy,
    /** The recovery path's client (on the IDevID), for `recover`. */
    private readonly recoveryClient?: UpdateClient,
  ) {}

  /** One check at a time; a check asked for while one runs gets that one's answer. */
  check(): Promise<UpdateCheck> {
    return this.exclusive('update');
  }

  /**
   * After attestation was refused for an outdated OS: the same verified check on the recovery path, which
   * offers at most a newer OS. Anything else it names is ignored; nothing is reported to a deployment. The
   * OS update reboots the device, which then attests again. Rejects when the server refuses recovery.
   */
  recover(): Promise<UpdateCheck> {
    if (this.recoveryClient === undefined) return Promise.reject(new Error('this device has no recovery client'));
    return this.exclusive('recovery');
  }

  /**
   * Checks share the inactive slot, so they never overlap: a call for the path already running gets that check's
   * answer; a call for the other path waits for it to end, then makes its own (a recovery must not be answered
   * with an update check's result, nor the other way round).
   */
  private exclusive(path: CheckPath): Promise<UpdateCheck> {
    const current = this.running;
    if (current?.path === path) return current.check;
    const check: Promise<UpdateCheck> = (current === undefined ? Promise.resolve() : current.check.then(noop, noop))
      .then(() => this.checkOnce(path))
      .finally(() => {
        if (this.running?.check === check) this.running = undefined;
      });
    this.running = { path, check };
    return check;
  }

  private async checkOnce(path: CheckPath): Promise<UpdateCheck> {
    const client = path === 'recovery' ? this.recoveryClient! : this.client;
    // A report the last check could not send (an update's reboot drops the connection) goes first.
    if (path === 'update') await this.sendReport();
    const trusted = this.trusted();
    if (trusted === undefined) {
      const detail = 'no update root was provisioned: the device trusts no update metadata';
      this.os.reportUpdateFailure('os', '', detail, { reason: NO_TRUSTED_ROOT });
      return { result: 'refused', reason: NO_TRUSTED_ROOT, detail };
    }
    const verifier = new UpdateMetadataClient(trusted, this.deviceId, this.now);
    // The director picks the OS on the group's feed by hardware (the device refuses any other anyway).
    const hardware = this.os.security.fuses.burned(HARDWARE_FUSE);
    const fetch: MetadataFetch = (name, maxBytes) =>
      client.metadata(
        name === MetadataFile.director && hardware !== undefined ? `${name}?hardware=${encodeURIComponent(hardware)}` : name,
        maxBytes,
      );
    let targets: readonly DirectedTarget[];
    let deployment: string | null;
    let fromFeed: ImageComponent | undefined;
    try {
      const refreshed = await verifier.refresh(fetch);
      targets = refreshed.targets;
      deployment = typeof refreshed.directorFields['deployment'] === 'string' ? refreshed.directorFields['deployment'] : null;
      // An OS from the group's feed is not the deployment's: how it went is not the deployment's to count.
      fromFeed = typeof refreshed.directorFields['osFeed'] === 'string' ? 'os' : undefined;
    } catch (error) {
      if (!(error instanceof MetadataRefusedError)) throw error;
      // What it trusted stays as it was; the refusal is reported, nothing is installed.
      this.os.reportUpdateFailure('os', '', `metadata refused: ${error.message}`, { reason: error.reason, file: error.file });
      return { result: 'refused', reason: error.reason, detail: error.message };
    }
    // Rollback protection holds across restarts only if what was verified is kept.
    this.store.write(TRUSTED_ENTRY, Buffer.from(JSON.stringify(verifier.trustedMetadata)));
    const runningOs = this.os.booted.securityVersions['os'] ?? 0;
    const wanted = targets.filter(
      (t) =>
        this.runningVersion(t.custom.component as ImageComponent) !== t.custom.version &&
        // A feed's OS older than the one running (a deployment brought a newer one) is no order to go back.
        !(t.custom.component === fromFeed && Number(t.custom.securityVersion) < runningOs) &&
        // Recovery brings another OS, never below the running one's security version, and nothing else.
        (path === 'update' || (t.custom.component === 'os' && Number(t.custom.securityVersion) >= runningOs)),
    );
    if (path === 'recovery') deployment = null;
    if (wanted.length === 0) {
      // Already running what the deployment wants (installed earlier, or it changed nothing here): say so once.
      if (deployment !== null && this.lastReport()?.deploymentId !== deployment) {
        await this.record({ deploymentId: deployment, state: 'installed', detail: 'already running it', sent: false });
      }
      return { result: 'up-to-date', deployment };
    }
    if (deployment !== null && this.deferral !== undefined) {
      const minutes = this.deferral({ deployment, components: wanted.map((t) => t.custom.component as ImageComponent) });
      if (minutes !== undefined && minutes > 0) {
        // Not kept: if it is lost, the platform offers the update again and the device is asked again.
        await this.client.report(deployment, 'deferred', 'deferred by the device', Math.min(1440, Math.ceil(minutes)));
        return { result: 'deferred', deployment, minutes };
      }
    }
    const outcomes: UpdateOutcome[] = [];
    for (const target of wanted) {
      const component = target.custom.component as ImageComponent;
      let bytes: Buffer;
      try {
        bytes = await client.download(target);
      } catch (error) {
        if (!(error instanceof DownloadError)) throw error;
        this.os.reportUpdateFailure(component, target.custom.version, `download refused: ${error.message}`, { reason: error.reason });
        outcomes.push({ result: 'refused', component, version: target.custom.version, reason: `${error.reason}: ${error.message}` });
        continue;
      }
      outcomes.push(await this.os.update(() => Promise.resolve(bytes), { component, maxBytes: target.length }));
    }
    if (deployment !== null) {
      const failed = outcomes.filter((o) => o.result !== 'committed' && o.component !== fromFeed);
      await this.record({
        deploymentId: deployment,
        state: failed.length === 0 ? 'installed' : 'failed',
        detail: failed.map((o) => ('reason' in o ? o.reason : '')).join('; '),
        sent: false,
      });
    }
    return { result: 'updated', deployment, outcomes };
  }

  /** Keeps the report (so it survives the connection an update's reboot drops, or a restart) and tries to send it. */
  private async record(report: DeploymentReport): Promise<void> {
    this.store.write(REPORT_ENTRY, Buffer.from(JSON.stringify(report)));
    await this.sendReport();
  }

  private async sendReport(): Promise<void> {
    const report = this.lastReport();
    if (report === undefined || report.sent) return;
    try {
      await this.client.report(report.deploymentId, report.state, report.detail);
      this.store.write(REPORT_ENTRY, Buffer.from(JSON.stringify({ ...report, sent: true })));
    } catch {
      // Not connected on the operational certificate right now; the next check sends it.
    }
  }

  private lastReport(): DeploymentReport | undefined {
    const raw = this.store.read(REPORT_ENTRY);
    return raw === undefined ? undefined : (JSON.parse(raw.toString('utf8')) as DeploymentReport);
  }

  private trusted(): TrustedMetadata | undefined {
    const raw = this.store.read(TRUSTED_ENTRY);
    return raw === undefined ? undefined : (JSON.parse(raw.toString('utf8')) as TrustedMetadata);
  }

  private runningVersion(component: ImageComponent): string | undefined {
    const { versions } = this.os.booted;
    return component === 'os' ? versions.os : component.startsWith('app:') ? versions.apps[component.slice('app:'.length)] : undefined;
  }
}
