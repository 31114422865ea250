import { describe, expect, it } from 'vitest';
import { outcomeOf, watchDeployment, type DeploymentStatus } from './watch.js';

const status = (state: string, installed: number, reason: string | null = null): DeploymentStatus => ({
  deployment: { id: 'd1', state, currentWave: 0, waves: 2, reason },
  counts: { members: 4, installed, pending: 4 - installed },
});

describe(outcomeOf.name, () => {
  it('ends 0 on completed, 1 with the reason on aborted, rolled back or superseded, and keeps watching otherwise', () => {
    expect(outcomeOf(status('completed', 4))).toEqual({ done: true, code: 0, message: 'deployment d1 completed' });
    expect(outcomeOf(status('aborted', 1, 'health gate: 50 % failed'))).toEqual({
      done: true,
      code: 1,
      message: 'deployment d1 aborted: health gate: 50 % failed',
    });
    expect(outcomeOf(status('rolled-back', 1))).toMatchObject({ done: true, code: 1 });
    expect(outcomeOf(status('superseded', 1))).toMatchObject({ done: true, code: 1 });
    expect(outcomeOf(status('active', 1))).toEqual({ done: false });
    expect(outcomeOf(status('paused', 1))).toEqual({ done: false });
  });
});

describe(watchDeployment.name, () => {
  it('prints one line per change through a pipe and exits with the outcome', async () => {
    const sequence = [status('active', 0), status('active', 0), status('active', 2), status('aborted', 2, 'by hand')];
    let printed = '';
    const code = await watchDeployment(() => Promise.resolve(sequence.shift()!), {
      intervalMs: 1,
      tty: false,
      write: (t) => (printed += t),
    });
    expect(code).toBe(1);
    expect(printed.split('\n')).toEqual([
      'active  wave 1/2  installed 0/4  failed 0  pending 4',
      'active  wave 1/2  installed 2/4  failed 0  pending 2',
      'aborted  wave 1/2  installed 2/4  failed 0  pending 2',
      'deployment d1 aborted: by hand',
      '',
    ]);
  });

  it('redraws one line on a terminal', async () => {
    const sequence = [status('active', 3), status('completed', 4)];
    let printed = '';
    expect(
      await watchDeployment(() => Promise.resolve(sequence.shift()!), { intervalMs: 1, tty: true, write: (t) => (printed += t) }),
    ).toBe(0);
    expect(printed).toBe(
      '\r\x1b[2Kactive  wave 1/2  installed 3/4  failed 0  pending 1\r\x1b[2Kcompleted  wave 1/2  installed 4/4  failed 0  pending 0\ndeployment d1 completed\n',
    );
  });
});
