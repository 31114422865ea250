import { ApiHttpError, ApiUnreachableError } from '@rampart/api-client';
import { describe, expect, it } from 'vitest';
import { safeLines } from './output/safe-text.js';
import { WATCH_EXIT, outcomeOf, watchDeployment, type DeploymentStatus } from './watch.js';

const status = (state: string, installed: number, reason: string | null = null): DeploymentStatus => ({
  deployment: { id: 'd1', state, currentWave: 0, waves: 2, reason },
  counts: { members: 4, installed, pending: 4 - installed },
});

/** Answers (or throws) each entry in turn, as the API would on each poll. */
function polls(sequence: Array<DeploymentStatus | Error>): () => Promise<DeploymentStatus> {
  return () => {
    const next = sequence.shift();
    if (next === undefined) return Promise.reject(new Error('polled past the end of the test sequence'));
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  };
}

const unavailable = (): ApiHttpError => new ApiHttpError('GET', '/v1/deployments/d1', 503, 'updates service unavailable', {});

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
    let printed = '';
    const result = await watchDeployment(
      polls([status('active', 0), status('active', 0), status('active', 2), status('aborted', 2, 'by hand')]),
      {
        intervalMs: 1,
        tty: false,
        write: (t) => (printed += t),
      },
    );
    expect(result.code).toBe(WATCH_EXIT.ended);
    expect(result.last?.deployment.state).toBe('aborted');
    expect(printed.split('\n')).toEqual([
      'active  wave 1/2  installed 0/4  failed 0  pending 4',
      'active  wave 1/2  installed 2/4  failed 0  pending 2',
      'aborted  wave 1/2  installed 2/4  failed 0  pending 2',
      'deployment d1 aborted: by hand',
      '',
    ]);
  });

  it('redraws one line on a terminal', async () => {
    let printed = '';
    const result = await watchDeployment(polls([status('active', 3), status('completed', 4)]), {
      intervalMs: 1,
      tty: true,
      write: (t) => (printed += t),
    });
    expect(result.code).toBe(WATCH_EXIT.completed);
    expect(printed).toBe(
      '\r\x1b[2Kactive  wave 1/2  installed 3/4  failed 0  pending 1\r\x1b[2Kcompleted  wave 1/2  installed 4/4  failed 0  pending 0\ndeployment d1 completed\n',
    );
  });

  it('escapes controls and BiDi marks the API passes on in states and reasons', async () => {
    let printed = '';
    await watchDeployment(polls([status('aborted', 1, 'crash in \x1b]0;pwned\x07main \u202eexe')]), {
      intervalMs: 1,
      tty: false,
      write: (t) => (printed += t),
    });
    expect(printed).toContain('deployment d1 aborted: crash in \\x1b]0;pwned\\x07main \\u202eexe');
    expect(safeLines(printed), 'nothing left to escape').toBe(printed);
  });

  it('says once that a deployment is paused and watches on until it ends', async () => {
    let printed = '';
    const result = await watchDeployment(
      polls([status('paused', 1, 'by hand'), status('paused', 1, 'by hand'), status('active', 1), status('completed', 4)]),
      { intervalMs: 1, tty: false, write: (t) => (printed += t) },
    );
    expect(result.code).toBe(WATCH_EXIT.completed);
    expect(printed.split('\n')).toEqual([
      'paused  wave 1/2  installed 1/4  failed 0  pending 3',
      'deployment d1 paused: by hand; watching on until it is resumed or ends',
      'active  wave 1/2  installed 1/4  failed 0  pending 3',
      'completed  wave 1/2  installed 4/4  failed 0  pending 0',
      'deployment d1 completed',
      '',
    ]);
  });

  it('retries transient failures (503, unreachable) with the interval, then carries on', async () => {
    let printed = '';
    const result = await watchDeployment(
      polls([
        status('active', 1),
        unavailable(),
        new ApiUnreachableError('http://api', 'ECONNRESET'),
        unavailable(),
        status('completed', 4),
      ]),
      { intervalMs: 1, retries: 3, tty: false, write: (t) => (printed += t) },
    );
    expect(result.code).toBe(WATCH_EXIT.completed);
    expect(printed).not.toContain('could not watch');
  });

  it('gives up with exit 2, distinct from an aborted rollout, when failures outlast the retries', async () => {
    let printed = '';
    const result = await watchDeployment(polls([status('active', 1), unavailable(), unavailable(), unavailable()]), {
      intervalMs: 1,
      retries: 2,
      tty: false,
      write: (t) => (printed += t),
    });
    expect(result.code).toBe(WATCH_EXIT.couldNotWatch);
    expect(WATCH_EXIT.couldNotWatch).not.toBe(WATCH_EXIT.ended);
    expect(printed).toContain('could not watch the deployment (3 tries): updates service unavailable (HTTP 503)');
  });

  it('gives up at once on an answer waiting will not change (404, 401)', async () => {
    let printed = '';
    const gone = new ApiHttpError('GET', '/v1/deployments/d1', 404, 'no such deployment', {});
    const result = await watchDeployment(polls([gone]), { intervalMs: 1, tty: false, write: (t) => (printed += t) });
    expect(result).toEqual({ code: WATCH_EXIT.couldNotWatch });
    expect(printed).toBe('could not watch the deployment: no such deployment (HTTP 404)\n');
  });

  it('gives up with exit 2 when --timeout passes before the deployment ends', async () => {
    let clock = 0;
    let printed = '';
    const forever = (): Promise<DeploymentStatus> => {
      clock += 1_000; // each poll: one second of the test's clock
      return Promise.resolve(status('active', 1));
    };
    const result = await watchDeployment(forever, {
      intervalMs: 1,
      timeoutMs: 5_000,
      now: () => clock,
      tty: false,
      write: (t) => (printed += t),
    });
    expect(result.code).toBe(WATCH_EXIT.couldNotWatch);
    expect(printed.trimEnd().split('\n').at(-1)).toBe('gave up watching after 5 s (--timeout); it is still active');
  });
});
