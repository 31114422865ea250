import { createHash } from 'node:crypto';
import { TPM_HASHES, TpmAlg } from './tpm-constants.js';
import { TpmFormatError, TpmReader } from './tpm-reader.js';

/**
 * The TCG PC Client crypto-agile event log (TCG PC Client Platform Firmware Profile, §10.2): a first
 * TCG_PCClientPCREvent (SHA-1 format, EV_NO_ACTION) carrying the TCG_EfiSpecIDEvent "Spec ID Event03" that lists the
 * banks' digest sizes, then TCG_PCR_EVENT2 records. Little-endian, as UEFI writes it.
 *
 * A Rampart boot stage is an EV_EVENT_TAG event (TCG_PCClientTaggedEvent) with the tag RAMPART_STAGE_TAG, whose
 * data names the stage, its version, its security version and its measurement (the image's SHA-256, the same value
 * the MCU's boot log reports). The event's digest is the SHA-256 of that data — as for UEFI variable events — so
 * everything the verifier reads from it (not only the measurement) is in the PCR the stage extends.
 */
export const EV_NO_ACTION = 0x00000003;
export const EV_EVENT_TAG = 0x00000006;
/** 'RMPT': tags the events that carry a Rampart boot stage. */
export const RAMPART_STAGE_TAG = 0x544d5052;
const SPEC_ID_SIGNATURE = Buffer.from('Spec ID Event03\0', 'latin1');

/** Which PCR each stage extends, as a PC's firmware (0), boot loader (4), and OS and its loads (8, 9) do. */
export function pcrOfStage(stage: string): number | undefined {
  if (stage === 'rom') return 0;
  if (stage === 'bootloader') return 4;
  if (stage === 'security-monitor') return 5;
  if (stage === 'os') return 8;
  if (stage.startsWith('app:')) return 9;
  return undefined;
}

/**
 * Every PCR `pcrOfStage` may name. A quote must select all of them: a device that left PCR 9 out could hide the apps
 * it ran (the log's PCR 9 events would then be unchecked); a PCR no stage extended is zero, so a device without apps
 * still passes.
 */
export const STAGE_PCRS: readonly number[] = [0, 4, 5, 8, 9];

export interface StageEvent {
  readonly stage: string;
  /** The stage's SHA-256 measurement, hex. */
  readonly sha256: string;
  readonly version: string;
  readonly securityVersion: number;
}

export interface ReplayedLog {
  readonly stages: readonly StageEvent[];
  /** The SHA-256 bank after replaying every event, by PCR index (only PCRs the log extends). */
  readonly pcrs: ReadonlyMap<number, Buffer>;
}

/** Bounds on what a log may hold: a device's log is hostile input. */
export const MAX_LOG_EVENTS = 64;
const MAX_EVENT_DATA = 512;
const MAX_TEXT = 64;

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return b;
}

function text(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > MAX_TEXT) throw new TpmFormatError(`"${value}" is longer than ${MAX_TEXT} bytes`, 'event');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/** The event data of a stage: TCG_PCClientTaggedEvent{RAMPART_STAGE_TAG, stage, version, security version, measurement}. */
export function stageEventData(stage: StageEvent): Buffer {
  const measurement = Buffer.from(stage.sha256, 'hex');
  if (measurement.length !== 32) throw new TpmFormatError('a measurement is a SHA-256', 'event');
  const data = Buffer.concat([text(stage.stage), text(stage.version), u16(stage.securityVersion), measurement]);
  return Buffer.concat([u32(RAMPART_STAGE_TAG), u32(data.length), data]);
}

/** A stage's TCG_PCR_EVENT2 and the digest to extend into its PCR (the SHA-256 of the event data). */
export function stageEvent(stage: StageEvent): { readonly pcr: number; readonly digest: Buffer; readonly event: Buffer } {
  const pcr = pcrOfStage(stage.stage);
  if (pcr === undefined) throw new TpmFormatError(`no PCR for stage ${stage.stage}`, 'event');
  const data = stageEventData(stage);
  const digest = createHash('sha256').update(data).digest();
  return { pcr, digest, event: pcrEvent2(pcr, EV_EVENT_TAG, digest, data) };
}

/** The log's first event: the Spec ID header naming the SHA-256 bank only. */
export function specIdEvent(): Buffer {
  const specId = Buffer.concat([
    SPEC_ID_SIGNATURE,
    u32(0), // platformClass: client
    Buffer.from([0, 2, 0, 2]), // specVersionMinor, specVersionMajor, specErrata, uintnSize (UINT64)
    u32(1),
    u16(TpmAlg.sha256),
    u16(32),
    Buffer.from([0]), // vendorInfoSize
  ]);
  return Buffer.concat([u32(0), u32(EV_NO_ACTION), Buffer.alloc(20), u32(specId.length), specId]);
}

/** One TCG_PCR_EVENT2 with a SHA-256 digest. */
export function pcrEvent2(pcrIndex: number, eventType: number, sha256: Buffer, data: Buffer): Buffer {
  return Buffer.concat([u32(pcrIndex), u32(eventType), u32(1), u16(TpmAlg.sha256), sha256, u32(data.length), data]);
}

function parseStage(data: Buffer): StageEvent {
  const r = new TpmReader(data, 'event log', true);
  if (r.u32() !== RAMPART_STAGE_TAG) throw new TpmFormatError('an EV_EVENT_TAG that is not a Rampart stage', 'event log');
  const size = r.u32();
  if (size !== r.remaining) throw new TpmFormatError('tagged event size does not match', 'event log');
  const stage = r.take(r.u8()).toString('utf8');
  const version = r.take(r.u8()).toString('utf8');
  const securityVersion = r.u16();
  const sha256 = r.take(32).toString('hex');
  if (r.remaining !== 0) throw new TpmFormatError('trailing bytes in a stage event', 'event log');
  return { stage, version, securityVersion, sha256 };
}

/**
 * Parses a crypto-agile log and replays its SHA-256 bank from zeroed PCRs: each event extends PCR[i] =
 * SHA-256(PCR[i] || digest). Refused: a missing or malformed Spec ID header, any digest list without exactly the
 * banks the header declares, events other than EV_NO_ACTION and Rampart stages, a stage in another stage's PCR or
 * whose digest is not that of its data,
 * more than MAX_LOG_EVENTS events, trailing bytes.
 */
export function replayEventLog(bytes: Uint8Array): ReplayedLog {
  const r = new TpmReader(Buffer.from(bytes), 'event log', true);
  // TCG_PCClientPCREvent (SHA-1 format) with the Spec ID event.
  if (r.u32() !== 0 || r.u32() !== EV_NO_ACTION) throw new TpmFormatError('the first event is not the Spec ID event', 'event log');
  if (!r.take(20).equals(Buffer.alloc(20))) throw new TpmFormatError('the Spec ID event has a digest', 'event log');
  const specSize = r.u32();
  if (specSize > MAX_EVENT_DATA) throw new TpmFormatError('Spec ID event too large', 'event log');
  const spec = new TpmReader(r.take(specSize), 'event log', true);
  if (!spec.take(16).equals(SPEC_ID_SIGNATURE)) throw new TpmFormatError('not a crypto-agile log (Spec ID Event03)', 'event log');
  const platformClass = spec.u32();
  const [minor, major, , uintnSize] = [spec.u8(), spec.u8(), spec.u8(), spec.u8()];
  // Client or server platform; spec version 2.0 (any errata); UINTN of 32 or 64 bits.
  if (platformClass > 1 || major !== 2 || minor !== 0 || (uintnSize !== 1 && uintnSize !== 2))
    throw new TpmFormatError('the Spec ID event is not a TCG 2.0 crypto-agile header', 'event log');
  const algorithms = spec.u32();
  if (algorithms < 1 || algorithms > 8) throw new TpmFormatError(`${algorithms} algorithms`, 'event log');
  const sizes = new Map<number, number>();
  for (let i = 0; i < algorithms; i += 1) sizes.set(spec.u16(), spec.u16());
  spec.take(spec.u8());
  if (spec.remaining !== 0) throw new TpmFormatError('trailing bytes in the Spec ID event', 'event log');
  if (sizes.get(TpmAlg.sha256) !== 32) throw new TpmFormatError('the log has no SHA-256 bank', 'event log');
  for (const [alg, size] of sizes)
    if (TPM_HASHES.get(alg)?.size !== size) throw new TpmFormatError('a bank of unknown digest size', 'event log');

  const pcrs = new Map<number, Buffer>();
  const stages: StageEvent[] = [];
  for (let events = 0; r.remaining > 0; events += 1) {
    if (events >= MAX_LOG_EVENTS) throw new TpmFormatError(`more than ${MAX_LOG_EVENTS} events`, 'event log');
    const pcrIndex = r.u32();
    const eventType = r.u32();
    const count = r.u32();
    if (count !== sizes.size) throw new TpmFormatError('an event without every declared bank', 'event log');
    let sha256: Buffer | undefined;
    const seen = new Set<number>();
    for (let i = 0; i < count; i += 1) {
      const alg = r.u16();
      const size = sizes.get(alg);
      if (size === undefined || seen.has(alg)) throw new TpmFormatError('a digest of an undeclared or repeated bank', 'event log');
      seen.add(alg);
      const digest = r.take(size);
      if (alg === TpmAlg.sha256) sha256 = digest;
    }
    const dataSize = r.u32();
    if (dataSize > MAX_EVENT_DATA) throw new TpmFormatError('event data too large', 'event log');
    const data = r.take(dataSize);
    if (eventType === EV_NO_ACTION) continue;
    if (eventType !== EV_EVENT_TAG)
      throw new TpmFormatError(`event type 0x${eventType.toString(16)} is not one this verifier reads`, 'event log');
    const stage = parseStage(data);
    if (pcrOfStage(stage.stage) !== pcrIndex) throw new TpmFormatError(`${stage.stage} measured into PCR ${pcrIndex}`, 'event log');
    const digest = sha256 ?? Buffer.alloc(32);
    if (!digest.equals(createHash('sha256').update(data).digest()))
      throw new TpmFormatError(`${stage.stage}: the digest is not of its event data`, 'event log');
    stages.push(stage);
    const before = pcrs.get(pcrIndex) ?? Buffer.alloc(32);
    pcrs.set(pcrIndex, createHash('sha256').update(before).update(digest).digest());
  }
  return { stages, pcrs };
}
