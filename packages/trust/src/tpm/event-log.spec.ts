import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TpmFormatError } from './tpm-reader.js';
import {
  EV_EVENT_TAG,
  EV_NO_ACTION,
  MAX_LOG_EVENTS,
  pcrEvent2,
  replayEventLog,
  specIdEvent,
  stageEvent,
  stageEventData,
} from './event-log.js';

const digest = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest();
const measured = (name: string) => ({ stage: name, version: '1.0.0', securityVersion: 2, sha256: digest(name).toString('hex') });
/** A stage event as a device writes it; `pcr` to put it elsewhere (its digest still that of its data). */
const stage = (name: string, pcr?: number) => {
  const data = stageEventData(measured(name));
  return pcr === undefined ? stageEvent(measured(name)).event : pcrEvent2(pcr, EV_EVENT_TAG, digest(data), data);
};
const digestOf = (name: string) => stageEvent(measured(name)).digest;
const extend = (...digests: Buffer[]) => digests.reduce((pcr, d) => createHash('sha256').update(pcr).update(d).digest(), Buffer.alloc(32));

/** TCG PC Client Platform Firmware Profile §10.2: the crypto-agile log, as hostile input. */
describe(replayEventLog.name, () => {
  it('replays each stage into its PCR and reads its name, version and security version', () => {
    const log = Buffer.concat([
      specIdEvent(),
      stage('rom', 0),
      stage('os', 8),
      pcrEvent2(8, EV_NO_ACTION, Buffer.alloc(32), Buffer.alloc(0)),
      stage('app:a', 9),
      stage('app:b', 9),
    ]);
    const replayed = replayEventLog(log);
    expect(replayed.stages.map((s) => s.stage)).toEqual(['rom', 'os', 'app:a', 'app:b']);
    expect(replayed.stages[1]).toEqual(measured('os'));
    expect(replayed.pcrs.get(0)).toEqual(extend(digestOf('rom')));
    expect(replayed.pcrs.get(9)).toEqual(extend(digestOf('app:a'), digestOf('app:b')));
    expect(replayed.pcrs.has(8)).toBe(true);
  });

  it('refuses a log without the Spec ID event, or with another signature', () => {
    expect(() => replayEventLog(stage('rom'))).toThrow(TpmFormatError);
    const header = specIdEvent();
    header.write('Spec ID Event02', 32, 'latin1');
    expect(() => replayEventLog(Buffer.concat([header, stage('rom')]))).toThrow(/Spec ID Event03/);
  });

  it('refuses a stage whose digest is not that of its data: a raised security version, another measurement', () => {
    const event = stage('os');
    const raised = Buffer.from(event);
    const svnAt = event.length - 32 - 2;
    raised.writeUInt16LE(9, svnAt);
    expect(() => replayEventLog(Buffer.concat([specIdEvent(), raised]))).toThrow(/not of its event data/);
    const otherImage = Buffer.from(event);
    otherImage[event.length - 1]! ^= 1;
    expect(() => replayEventLog(Buffer.concat([specIdEvent(), otherImage]))).toThrow(/not of its event data/);
  });

  it('refuses a stage measured into another stage’s PCR', () => {
    expect(() => replayEventLog(Buffer.concat([specIdEvent(), stage('os', 0)]))).toThrow(/PCR 0/);
  });

  it('refuses event types it does not read, and tagged events that are not stages', () => {
    expect(() => replayEventLog(Buffer.concat([specIdEvent(), pcrEvent2(0, 0x80000001, digest('x'), Buffer.alloc(4))]))).toThrow(
      /event type/,
    );
    const foreignTag = Buffer.alloc(8);
    expect(() => replayEventLog(Buffer.concat([specIdEvent(), pcrEvent2(0, EV_EVENT_TAG, digest('x'), foreignTag)]))).toThrow(
      /not a Rampart stage/,
    );
  });

  it('refuses an event whose digest list names a bank the header does not, or omits its bank', () => {
    const event = stage('rom');
    const sha1Bank = Buffer.from(event);
    sha1Bank.writeUInt16LE(0x0004, 12);
    expect(() => replayEventLog(Buffer.concat([specIdEvent(), sha1Bank]))).toThrow(TpmFormatError);
    const noDigest = Buffer.from(event);
    noDigest.writeUInt32LE(0, 8);
    expect(() => replayEventLog(Buffer.concat([specIdEvent(), noDigest]))).toThrow(/every declared bank/);
  });

  it('refuses truncation anywhere and oversized event data', () => {
    const log = Buffer.concat([specIdEvent(), stage('rom'), stage('bootloader')]);
    for (let length = 1; length < log.length; length += 1) {
      const cut = log.subarray(0, length);
      // Cutting exactly between events leaves a shorter, valid log.
      if (length === specIdEvent().length || length === specIdEvent().length + stage('rom').length) continue;
      expect(() => replayEventLog(cut), `cut at ${length}`).toThrow(TpmFormatError);
    }
    const huge = pcrEvent2(0, EV_EVENT_TAG, digest('x'), Buffer.alloc(4096));
    expect(() => replayEventLog(Buffer.concat([specIdEvent(), huge]))).toThrow(/too large/);
  });

  it(`refuses more than ${MAX_LOG_EVENTS} events`, () => {
    const events = Array.from({ length: MAX_LOG_EVENTS + 1 }, () => pcrEvent2(0, EV_NO_ACTION, Buffer.alloc(32), Buffer.alloc(0)));
    expect(() => replayEventLog(Buffer.concat([specIdEvent(), ...events]))).toThrow(/more than/);
  });
});
