import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TpmFormatError } from './tpm-reader.js';
import { EV_EVENT_TAG, EV_NO_ACTION, MAX_LOG_EVENTS, pcrEvent2, replayEventLog, specIdEvent, stageEventData } from './event-log.js';

const digest = (text: string) => createHash('sha256').update(text).digest();
const stage = (name: string, pcr: number, text = name) => pcrEvent2(pcr, EV_EVENT_TAG, digest(text), stageEventData(name, '1.0.0', 2));
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
    expect(replayed.stages[1]).toEqual({ stage: 'os', version: '1.0.0', securityVersion: 2, sha256: digest('os').toString('hex') });
    expect(replayed.pcrs.get(0)).toEqual(extend(digest('rom')));
    expect(replayed.pcrs.get(9)).toEqual(extend(digest('app:a'), digest('app:b')));
    expect(replayed.pcrs.has(8)).toBe(true);
  });

  it('refuses a log without the Spec ID event, or with another signature', () => {
    expect(() => replayEventLog(stage('rom', 0))).toThrow(TpmFormatError);
    const header = specIdEvent();
    header.write('Spec ID Event02', 32, 'latin1');
    expect(() => replayEventLog(Buffer.concat([header, stage('rom', 0)]))).toThrow(/Spec ID Event03/);
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
    const event = stage('rom', 0);
    const sha1Bank = Buffer.from(event);
    sha1Bank.writeUInt16LE(0x0004, 12);
    expect(() => replayEventLog(Buffer.concat([specIdEvent(), sha1Bank]))).toThrow(TpmFormatError);
    const noDigest = Buffer.from(event);
    noDigest.writeUInt32LE(0, 8);
    expect(() => replayEventLog(Buffer.concat([specIdEvent(), noDigest]))).toThrow(/every declared bank/);
  });

  it('refuses truncation anywhere and oversized event data', () => {
    const log = Buffer.concat([specIdEvent(), stage('rom', 0), stage('bootloader', 4)]);
    for (let length = 1; length < log.length; length += 1) {
      const cut = log.subarray(0, length);
      // Cutting exactly between events leaves a shorter, valid log.
      if (length === specIdEvent().length || length === specIdEvent().length + stage('rom', 0).length) continue;
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
