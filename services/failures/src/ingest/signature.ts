import { createHash } from 'node:crypto';

/** Frames that decide a bucket: the top of the stack, where the fault is. */
export const SIGNATURE_FRAMES = 5;

export interface SignatureInput {
  readonly tenantId: string | null;
  readonly kind: string;
  readonly component: string;
  readonly version: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly message: string;
  readonly frames: ReadonlyArray<{ readonly function: string; readonly file: string }>;
}

/**
 * A frame without what changes between builds and runs: line and column
 * (not part of it), the version in the file name (`app:x@1.2.0` → `app:x`,
 * since the version is part of the signature on its own), and addresses.
 */
export function normaliseFrame(frame: { readonly function: string; readonly file: string }): string {
  const fn = frame.function.replace(/0x[0-9a-f]+/gi, '?').trim() || '<anonymous>';
  const file = frame.file.replace(/@[^@/]*$/, '').trim();
  return `${fn}@${file}`;
}

/** Without frames (boot, update, attestation failures) the message decides, with its numbers taken out. */
function normaliseMessage(message: string): string {
  return message
    .replace(/0x[0-9a-f]+/gi, '?')
    .replace(/\d+(\.\d+)?/g, 'N')
    .slice(0, 200);
}

/**
 * The bucket a report falls into: tenant + component + version + kind +
 * exit code / signal + the normalised top frames. Tenants never share a
 * bucket, so no tenant sees another's counts.
 */
export function bucketSignature(report: SignatureInput): string {
  const parts = [
    report.tenantId ?? '-',
    report.kind,
    report.component,
    report.version,
    String(report.exitCode ?? '-'),
    report.signal ?? '-',
    ...(report.frames.length > 0 ? report.frames.slice(0, SIGNATURE_FRAMES).map(normaliseFrame) : [normaliseMessage(report.message)]),
  ];
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);
}

/** A short human title for a bucket: the kind, component and where it failed. */
export function bucketTitle(report: SignatureInput): string {
  const top = report.frames[0];
  const where = top === undefined ? normaliseMessage(report.message).slice(0, 80) : normaliseFrame(top);
  return `${report.kind} in ${report.component} ${report.version}: ${where}`;
}
