import { ErrorCode } from '@rampart/contracts';
import { DomainError } from '@rampart/service-kit';
import type { DataSource } from 'typeorm';
import { executor, type Tx } from '../persistence/transactions.js';
import type { CheckedImage } from './image-upload.js';

/** Image bytes are stored in chunks of this size (a range read touches only the chunks it needs). */
export const IMAGE_CHUNK_BYTES = 256 * 1024;

export type ImageStatus = 'uploaded' | 'released' | 'revoked';

/** Where OS releases reach devices without a deployment: everyone (retail), or early evaluators first. */
export type OsFeed = 'retail' | 'retail-eval';

export interface ImageRow {
  readonly sha256: string;
  readonly tenantId: string;
  readonly component: string;
  readonly version: string;
  readonly securityVersion: number;
  readonly hardware: string;
  readonly size: number;
  readonly measurement: string;
  readonly signerKeyId: string;
  readonly status: ImageStatus;
  readonly createdAt: string;
  readonly releasedAt: string | null;
  readonly revokedAt: string | null;
  /** The OS feed it is on, if any (OS images only). */
  readonly osFeed: OsFeed | null;
}

interface ImageSqlRow {
  sha256: string;
  tenant_id: string;
  component: string;
  version: string;
  security_version: number;
  hardware: string;
  size: string;
  measurement: string;
  signer_key_id: string;
  status: ImageStatus;
  created_at: Date;
  released_at: Date | null;
  revoked_at: Date | null;
  os_feed: OsFeed | null;
}

const COLUMNS = `sha256, tenant_id, component, version, security_version, hardware, size::text, measurement, signer_key_id, status,
                 created_at, released_at, revoked_at, os_feed`;

/** The row an `UPDATE … RETURNING` changed, if any (TypeORM answers an UPDATE with [rows, affected]). */
function updatedImage(result: unknown): ImageRow | undefined {
  const [rows] = result as [ImageSqlRow[], number];
  return rows[0] === undefined ? undefined : imageRow(rows[0]);
}

function imageRow(r: ImageSqlRow): ImageRow {
  return {
    sha256: r.sha256,
    tenantId: r.tenant_id,
    component: r.component,
    version: r.version,
    securityVersion: r.security_version,
    hardware: r.hardware,
    size: Number(r.size),
    measurement: r.measurement,
    signerKeyId: r.signer_key_id,
    status: r.status,
    createdAt: new Date(r.created_at).toISOString(),
    releasedAt: r.released_at === null ? null : new Date(r.released_at).toISOString(),
    revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at).toISOString(),
    osFeed: r.os_feed,
  };
}

/**
 * Image chunks recently read, least recently used first out, up to
 * `maxBytes` in all. Chunks are immutable (images are content-addressed),
 * so a cached chunk is never stale.
 */
export class ChunkCache {
  private readonly chunks = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(sha256: string, seq: number): Buffer | undefined {
    const key = `${sha256}:${seq}`;
    const chunk = this.chunks.get(key);
    if (chunk !== undefined) {
      this.chunks.delete(key);
      this.chunks.set(key, chunk);
    }
    return chunk;
  }

  put(sha256: string, seq: number, chunk: Buffer): void {
    if (chunk.length > this.maxBytes) return;
    const key = `${sha256}:${seq}`;
    if (this.chunks.has(key)) return;
    this.chunks.set(key, chunk);
    this.bytes += chunk.length;
    for (const [oldest, data] of this.chunks) {
      if (this.bytes <= this.maxBytes) break;
      this.chunks.delete(oldest);
      this.bytes -= data.length;
    }
  }
}

export class ImageConflictError extends DomainError {
  override readonly name = 'ImageConflictError';
  readonly code = ErrorCode.conflict;
}

/** Images are immutable and content-addressed; their bytes live in PostgreSQL chunks, so every replica serves them. */
export class ImagesRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly chunkCache: ChunkCache = new ChunkCache(0),
  ) {}

  /**
   * Stores an image and its bytes, in `tx` (the row and its chunks commit
   * together). The same bytes again are the same image (idempotent); other
   * bytes under a component version the tenant already has are refused —
   * versions are immutable.
   */
  async store(tenantId: string, image: CheckedImage, tx: Tx): Promise<{ image: ImageRow; created: boolean }> {
    const sql = executor(this.dataSource, tx);
    const inserted: ImageSqlRow[] = await sql.query(
      `INSERT INTO updates.images (sha256, tenant_id, component, version, security_version, hardware, size, measurement, signer_key_id, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'uploaded')
       ON CONFLICT DO NOTHING
       RETURNING ${COLUMNS}`,
      [
        image.sha256,
        tenantId,
        image.manifest.component,
        image.manifest.version,
        image.manifest.securityVersion,
        image.manifest.hardware,
        image.size,
        image.measurement,
        image.signerKeyId,
      ],
    );
    if (inserted[0] === undefined) {
      const existing = await this.find(tenantId, image.sha256, tx);
      if (existing !== undefined) return { image: existing, created: false };
      // Only this tenant's images can conflict: what other tenants hold is neither seen nor told.
      throw new ImageConflictError(
        `${image.manifest.component} ${image.manifest.version} already exists with other bytes; versions are immutable`,
      );
    }
    // Chunks are content-addressed and shared: the same bytes from another tenant are stored once.
    for (let seq = 0, at = 0; at < image.bytes.length; seq++, at += IMAGE_CHUNK_BYTES) {
      await sql.query(`INSERT INTO updates.image_chunks (image_sha256, seq, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
        image.sha256,
        seq,
        image.bytes.subarray(at, at + IMAGE_CHUNK_BYTES),
      ]);
    }
    return { image: imageRow(inserted[0]), created: true };
  }

  async find(tenantId: string, sha256: string, tx?: Tx): Promise<ImageRow | undefined> {
    const rows: ImageSqlRow[] = await executor(this.dataSource, tx).query(
      `SELECT ${COLUMNS} FROM updates.images WHERE tenant_id = $1 AND sha256 = $2`,
      [tenantId, sha256],
    );
    return rows[0] === undefined ? undefined : imageRow(rows[0]);
  }

  async list(tenantId: string, filter: { component?: string | undefined; status?: ImageStatus | undefined }): Promise<ImageRow[]> {
    const rows: ImageSqlRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM updates.images WHERE tenant_id = $1 AND ($2::text IS NULL OR component = $2) AND ($3::text IS NULL OR status = $3)
        ORDER BY created_at DESC LIMIT 1000`,
      [tenantId, filter.component ?? null, filter.status ?? null],
    );
    return rows.map(imageRow);
  }

  /** Released images of a tenant: what its signed targets list. */
  async released(tenantId: string, tx?: Tx): Promise<ImageRow[]> {
    const rows: ImageSqlRow[] = await executor(this.dataSource, tx).query(
      `SELECT ${COLUMNS} FROM updates.images WHERE tenant_id = $1 AND status = 'released' ORDER BY component, created_at`,
      [tenantId],
    );
    return rows.map(imageRow);
  }

  /** Puts a released OS image on a feed (or moves it from early evaluation to retail). */
  async setFeed(tenantId: string, sha256: string, feed: OsFeed, tx: Tx): Promise<ImageRow | undefined> {
    return updatedImage(
      await executor(this.dataSource, tx).query(
        `UPDATE updates.images SET os_feed = $3, feed_at = now()
          WHERE tenant_id = $1 AND sha256 = $2 AND status = 'released' AND component = 'os'
          RETURNING ${COLUMNS}`,
        [tenantId, sha256, feed],
      ),
    );
  }

  /**
   * The OS a device on `feeds` should run: the released image for its hardware with the highest security
   * version, the one most recently put on a feed among equals.
   */
  async feedOs(tenantId: string, hardware: string, feeds: readonly OsFeed[]): Promise<ImageRow | undefined> {
    const rows: ImageSqlRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM updates.images
        WHERE tenant_id = $1 AND hardware = $2 AND status = 'released' AND os_feed = ANY($3)
        ORDER BY security_version DESC, feed_at DESC LIMIT 1`,
      [tenantId, hardware, feeds],
    );
    return rows[0] === undefined ? undefined : imageRow(rows[0]);
  }

  /**
   * What a device on the recovery path may be given: the newest OS for its hardware that the tenant released
   * and put on the retail feed (approved for every device), not below the security version it runs (its
   * anti-rollback fuse refuses those anyway) and not the OS it runs (`runningMeasurement`).
   */
  async recoveryOs(
    tenantId: string,
    hardware: string,
    minSecurityVersion: number,
    runningMeasurement: string,
  ): Promise<ImageRow | undefined> {
    const rows: ImageSqlRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM updates.images
        WHERE tenant_id = $1 AND hardware = $2 AND component = 'os' AND status = 'released' AND os_feed = 'retail'
          AND security_version >= $3 AND measurement <> $4
        ORDER BY security_version DESC, feed_at DESC LIMIT 1`,
      [tenantId, hardware, minSecurityVersion, runningMeasurement],
    );
    return rows[0] === undefined ? undefined : imageRow(rows[0]);
  }

  /** uploaded → released, released → revoked (and nothing else); returns the row after, or undefined if the move is not allowed. */
  async setStatus(tenantId: string, sha256: string, to: 'released' | 'revoked', tx: Tx): Promise<ImageRow | undefined> {
    const from = to === 'released' ? ['uploaded'] : ['uploaded', 'released'];
    return updatedImage(
      await executor(this.dataSource, tx).query(
        `UPDATE updates.images SET status = $3, ${to === 'released' ? 'released_at' : 'revoked_at'} = now()
          WHERE tenant_id = $1 AND sha256 = $2 AND status = ANY($4)
          RETURNING ${COLUMNS}`,
        [tenantId, sha256, to, from],
      ),
    );
  }

  /**
   * Bytes `start`..`end` (inclusive) of an image, chunk by chunk, without
   * holding the whole image. During a rollout every device asks for the
   * same image: recently read chunks come from memory (`chunkCache`).
   */
  async *readRange(sha256: string, start: number, end: number): AsyncGenerator<Buffer> {
    const first = Math.floor(start / IMAGE_CHUNK_BYTES);
    const last = Math.floor(end / IMAGE_CHUNK_BYTES);
    const slice = (seq: number, data: Buffer) => {
      const chunkStart = seq * IMAGE_CHUNK_BYTES;
      return data.subarray(Math.max(0, start - chunkStart), Math.min(data.length, end - chunkStart + 1));
    };
    for (let from = first; from <= last;) {
      const cached = this.chunkCache.get(sha256, from);
      if (cached !== undefined) {
        yield slice(from, cached);
        from++;
        continue;
      }
      // A few chunks per query: bounded memory, few round trips.
      const rows: Array<{ seq: number; data: Buffer }> = await this.dataSource.query(
        `SELECT seq, data FROM updates.image_chunks WHERE image_sha256 = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq`,
        [sha256, from, Math.min(last, from + 7)],
      );
      if (rows.length === 0) return;
      for (const row of rows) {
        this.chunkCache.put(sha256, row.seq, row.data);
        yield slice(row.seq, row.data);
      }
      from = rows.at(-1)!.seq + 1;
    }
  }
}
