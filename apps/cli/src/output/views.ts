import { digest, id, time, type View } from './format.js';

// What each resource looks like in a table: the columns an operator scans; -o wide adds full ids and ISO times.

export interface DeviceRow {
  readonly id: string;
  readonly claimedAt: string | null;
  readonly revoked: boolean;
  readonly revokedReason: string | null;
  readonly lastAttestedAt: string | null;
  readonly lastPass: boolean | null;
  /** Joined by the CLI: the device group (product/group) and when telemetry last heard from it. */
  readonly group?: string | null;
  readonly lastSeen?: number | null;
}

export function deviceStatus(d: DeviceRow): string {
  if (d.revoked) return 'revoked';
  if (d.lastPass === null) return 'unattested';
  return d.lastPass ? 'attested' : 'failed-attestation';
}

export const deviceView: View<DeviceRow> = {
  empty: 'No devices.',
  columns: [
    { header: 'ID', value: (d, c) => id(d.id, c) },
    { header: 'STATUS', value: (d) => deviceStatus(d) },
    { header: 'GROUP', value: (d) => d.group ?? '-' },
    { header: 'LAST SEEN', value: (d, c) => time(d.lastSeen, c) },
    { header: 'LAST ATTESTED', value: (d, c) => time(d.lastAttestedAt, c) },
    { header: 'CLAIMED', value: (d, c) => time(d.claimedAt, c), wide: true },
    { header: 'REASON', value: (d) => d.revokedReason ?? '-', wide: true },
  ],
};

export interface ImageRow {
  readonly sha256: string;
  readonly component: string;
  readonly version: string;
  readonly securityVersion: number;
  readonly hardware: string;
  readonly status: string;
  readonly osFeed: string | null;
  readonly createdAt: string;
}

export const imageView: View<ImageRow> = {
  empty: 'No images.',
  columns: [
    { header: 'DIGEST', value: (i, c) => digest(i.sha256, c) },
    { header: 'COMPONENT', value: (i) => i.component },
    { header: 'VERSION', value: (i) => i.version },
    { header: 'SECURITY VERSION', value: (i) => String(i.securityVersion) },
    { header: 'STATUS', value: (i) => i.status },
    { header: 'FEED', value: (i) => i.osFeed ?? '-', wide: true },
    { header: 'HARDWARE', value: (i) => i.hardware, wide: true },
    { header: 'AGE', value: (i, c) => time(i.createdAt, c) },
  ],
};

export interface ProductRow {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly createdAt: string;
  readonly groups?: ReadonlyArray<{ readonly name: string }>;
}

export const productView: View<ProductRow> = {
  empty: 'No products.',
  columns: [
    { header: 'ID', value: (p, c) => id(p.id, c) },
    { header: 'NAME', value: (p) => p.name },
    { header: 'DESCRIPTION', value: (p) => p.description || '-' },
    { header: 'AGE', value: (p, c) => time(p.createdAt, c) },
  ],
};

export interface GroupRow {
  readonly id: string;
  readonly productId: string;
  readonly name: string;
  readonly updatePolicy: string;
  readonly osFeed: string;
  readonly window: { readonly startHour: number; readonly endHour: number } | null;
  readonly createdAt: string;
  /** Joined by the CLI. */
  readonly product?: string;
}

export const groupView: View<GroupRow> = {
  empty: 'No device groups.',
  columns: [
    { header: 'ID', value: (g, c) => id(g.id, c) },
    { header: 'PRODUCT', value: (g, c) => g.product ?? id(g.productId, c) },
    { header: 'NAME', value: (g) => g.name },
    { header: 'POLICY', value: (g) => g.updatePolicy },
    { header: 'FEED', value: (g) => g.osFeed },
    { header: 'WINDOW (UTC)', value: (g) => (g.window === null ? 'any' : `${g.window.startHour}-${g.window.endHour}`) },
    { header: 'AGE', value: (g, c) => time(g.createdAt, c) },
  ],
};

export interface DeploymentRow {
  readonly id: string;
  readonly groupId: string;
  readonly images: readonly string[];
  readonly state: string;
  readonly currentWave: number;
  readonly waves: number;
  readonly createdAt: string;
  readonly endedAt: string | null;
  readonly reason: string | null;
  /** From the status call. */
  readonly counts?: Readonly<Record<string, number>>;
  /** Joined by the CLI. */
  readonly group?: string;
}

const count = (d: DeploymentRow, state: string): string => (d.counts === undefined ? '-' : String(d.counts[state] ?? 0));

export const deploymentView: View<DeploymentRow> = {
  empty: 'No deployments.',
  columns: [
    { header: 'ID', value: (d, c) => id(d.id, c) },
    { header: 'GROUP', value: (d, c) => d.group ?? id(d.groupId, c) },
    { header: 'STATE', value: (d) => d.state },
    { header: 'WAVE', value: (d) => `${Math.min(d.currentWave + 1, d.waves)}/${d.waves}` },
    {
      header: 'INSTALLED/FAILED/PENDING',
      value: (d) =>
        d.counts === undefined
          ? '-'
          : `${count(d, 'installed')}/${Number(count(d, 'failed')) + Number(count(d, 'timed-out'))}/${
              Number(count(d, 'pending')) + Number(count(d, 'notified')) + Number(count(d, 'deferred'))
            }`,
    },
    { header: 'IMAGES', value: (d, c) => d.images.map((i) => digest(i, c)).join(','), wide: true },
    { header: 'REASON', value: (d) => d.reason ?? '-', wide: true },
    { header: 'AGE', value: (d, c) => time(d.createdAt, c) },
  ],
};

export interface DeploymentDeviceRow {
  readonly deviceId: string;
  readonly wave: number;
  readonly state: string;
  readonly attempts: number;
  readonly detail: string | null;
  readonly updatedAt: string;
}

export const deploymentDeviceView: View<DeploymentDeviceRow> = {
  empty: 'No devices in this deployment yet.',
  columns: [
    { header: 'DEVICE', value: (d, c) => id(d.deviceId, c) },
    { header: 'WAVE', value: (d) => String(d.wave + 1) },
    { header: 'STATE', value: (d) => d.state },
    { header: 'ATTEMPTS', value: (d) => String(d.attempts) },
    { header: 'DETAIL', value: (d) => d.detail ?? '-' },
    { header: 'UPDATED', value: (d, c) => time(d.updatedAt, c) },
  ],
};

export interface TokenRow {
  readonly id: string;
  readonly role: string;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly active: boolean;
}

export const tokenView: View<TokenRow> = {
  empty: 'No tokens.',
  columns: [
    { header: 'ID', value: (t, c) => id(t.id, c) },
    { header: 'ROLE', value: (t) => t.role },
    { header: 'STATUS', value: (t) => (t.revokedAt !== null ? 'revoked' : t.active ? 'active' : 'expired') },
    { header: 'EXPIRES', value: (t, c) => (t.expiresAt === null ? 'never' : time(t.expiresAt, c)) },
    { header: 'AGE', value: (t, c) => time(t.createdAt, c) },
  ],
};

/** A token just made: the only time its secret is shown (it is the point of the command). */
export interface NewTokenRow {
  readonly id: string;
  readonly role: string;
  readonly token: string;
  readonly expiresAt?: string | null;
}

export const newTokenView: View<NewTokenRow> = {
  empty: '',
  columns: [
    { header: 'ID', value: (t, c) => id(t.id, c) },
    { header: 'ROLE', value: (t) => t.role },
    { header: 'TOKEN (shown once)', value: (t) => t.token },
  ],
};

export interface TenantRow {
  readonly id: string;
  readonly name?: string;
  readonly administratorToken?: string;
}

export const tenantView: View<TenantRow> = {
  empty: 'No tenants.',
  columns: [
    { header: 'ID', value: (t) => t.id },
    { header: 'NAME', value: (t) => t.name ?? '-' },
    { header: 'ADMINISTRATOR TOKEN (shown once)', value: (t) => t.administratorToken ?? '-' },
  ],
};

export interface BucketRow {
  readonly signature: string;
  readonly title: string;
  readonly reports: number;
  readonly devices: number;
  readonly lastSeen: string;
}

export const bucketView: View<BucketRow> = {
  empty: 'No failures.',
  columns: [
    { header: 'BUCKET', value: (b, c) => id(b.signature, c, 12) },
    { header: 'REPORTS', value: (b) => String(b.reports) },
    { header: 'DEVICES', value: (b) => String(b.devices) },
    { header: 'LAST SEEN', value: (b, c) => time(b.lastSeen, c) },
    { header: 'TITLE', value: (b) => b.title },
  ],
};

export interface VerdictRow {
  readonly deviceId: string;
  readonly at: string;
  readonly pass: boolean;
  readonly reasons: readonly string[];
  /** The evidence kind (psa-token, tpm2-quote); null when the evidence could not be read. */
  readonly kind: string | null;
}

export const verdictView: View<VerdictRow> = {
  empty: 'No attestations yet.',
  columns: [
    { header: 'DEVICE', value: (v, c) => id(v.deviceId, c) },
    { header: 'VERDICT', value: (v) => (v.pass ? 'pass' : 'fail') },
    { header: 'EVIDENCE', value: (v) => v.kind ?? '-' },
    { header: 'REASONS', value: (v) => (v.reasons.length === 0 ? '-' : v.reasons.join(', ')) },
    { header: 'AT', value: (v, c) => time(v.at, c) },
  ],
};

export interface CaCertificateRow {
  readonly status: string;
  readonly notAfter: string;
  readonly certificatePem: string;
}

/** Certificates by status and expiry; the PEM itself only in json and yaml. */
export const caCertificateView: View<CaCertificateRow> = {
  empty: 'No CA certificates.',
  columns: [
    { header: 'STATUS', value: (r) => r.status },
    { header: 'EXPIRES', value: (r, c) => time(r.notAfter, c) },
  ],
};

/** Any other answer: one row of key=value pairs (json and yaml show it whole). */
export const keyValueView: View<unknown> = {
  empty: 'Done.',
  columns: [
    {
      header: 'RESULT',
      value: (row) =>
        row === null || typeof row !== 'object'
          ? String(row)
          : Object.entries(row)
              .filter(([, v]) => v === null || typeof v !== 'object')
              .map(([k, v]) => `${k}=${String(v)}`)
              .join('  '),
    },
  ],
};
