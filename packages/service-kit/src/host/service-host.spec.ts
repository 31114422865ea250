import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, Module } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import type { HostedConfig } from './service-host.js';
import { DEFAULT_HOST_PORTS, defineService, type HostPorts, type ServiceDescriptor } from './service-host.js';
import type { Job } from './job.js';
import { createLogger } from '../logger.js';
import { LOGGER, READINESS, SERVICE_CONFIG } from '../tokens.js';
import type { Readiness } from '../health.js';

const config: HostedConfig = {
  logLevel: 'silent',
  http: { host: '127.0.0.1', port: 0 },
  bus: 'in-process',
  natsUrl: undefined,
  busPrefix: '',
  otlpEndpoint: undefined,
  streamReplicas: 1,
  traceSampleRatio: 0,
  shutdownTimeoutMs: 5_000,
};
const logger = createLogger('host-spec', 'silent');

/** Every open and close the host does, in order, as the fake ports and steps see them. */
type Journal = string[];

/** A part that only a provider made by the host's own tokens can build: proves the module's factories see them. */
class Greeter {
  constructor(readonly service: string) {}
}

@Controller()
class GreetingController {
  constructor(@Inject(Greeter) private readonly greeter: Greeter) {}

  @Get('greeting')
  greet(): { service: string } {
    return { service: this.greeter.service };
  }
}

@Injectable()
class SweepJob implements Job {
  readonly name = 'sweep';
  readonly intervalMs = 60_000;
  constructor(@Inject(LOGGER) readonly logger: unknown) {}
  run(): Promise<void> {
    return Promise.resolve();
  }
  onError(): void {}
}

@Injectable()
class TickJob implements Job {
  readonly name = 'tick';
  readonly intervalMs = 60_000;
  run(): Promise<void> {
    return Promise.resolve();
  }
  onError(): void {}
}

@Module({})
class HostedModule {}

/** The real ports, each opening and closing in the journal, failing where the test says. */
function journalledPorts(journal: Journal, failAt: string | undefined): HostPorts {
  const fail = (step: string): void => {
    if (step === failAt) throw new Error(`${step} failed`);
  };
  return {
    openRuntime: async (...args) => {
      fail('runtime');
      const runtime = await DEFAULT_HOST_PORTS.openRuntime(...args);
      journal.push('open runtime');
      return runtime;
    },
    closeRuntime: async (runtime) => {
      journal.push('close runtime');
      await DEFAULT_HOST_PORTS.closeRuntime(runtime);
    },
    // Unit tests may fake ports: a pool that answers the readiness probe and records its destruction.
    openDatabase: (options) => {
      fail('database');
      journal.push(`open database ${options.schema}`);
      const fake = {
        isInitialized: true,
        query: () => Promise.resolve([]),
        destroy: () => {
          journal.push(`close database ${options.schema}`);
          return Promise.resolve();
        },
      };
      return Promise.resolve(fake as unknown as DataSource);
    },
    createApp: async (options) => {
      fail('app');
      const http = await DEFAULT_HOST_PORTS.createApp(options);
      journal.push('open app');
      return {
        app: http.app,
        listen: async (host, port) => {
          fail('listen');
          const url = await http.listen(host, port);
          journal.push('open http');
          return url;
        },
        close: async () => {
          journal.push('close app');
          await http.close();
        },
      };
    },
    startJob: (job) => {
      fail(`job ${job.name}`);
      journal.push(`open job ${job.name}`);
      return {
        stop: () => {
          journal.push(`close job ${job.name}`);
          return Promise.resolve();
        },
      };
    },
  };
}

function descriptor(journal: Journal, failAt: string | undefined): ServiceDescriptor<HostedConfig, { greeter: Greeter }> {
  const step = (name: string, undoable: boolean) => ({
    name,
    run: () => {
      if (name === failAt) throw new Error(`${name} failed`);
      journal.push(`open ${name}`);
    },
    ...(undoable ? { undo: () => void journal.push(`close ${name}`) } : {}),
  });
  return {
    name: 'hosted',
    config: () => config,
    database: { schema: 'hosted', migrations: [], applicationName: 'rampart-hosted', connection: () => ({ url: 'postgres://unused' }) },
    module: () => {
      if (failAt === 'module') throw new Error('module failed');
      return {
        module: HostedModule,
        controllers: [GreetingController],
        providers: [
          {
            provide: Greeter,
            inject: [SERVICE_CONFIG, READINESS],
            useFactory: (c: HostedConfig, readiness: Readiness) => {
              readiness.register('greeter', () => Promise.resolve());
              return new Greeter(`hosted on ${c.http.host}`);
            },
          },
        ],
      };
    },
    openApi: { title: 'Rampart hosted', description: 'A service for the host spec' },
    beforeListen: [step('consumer', true), step('first policy run', false)],
    afterListen: [step('listener', true)],
    jobs: [SweepJob, TickJob],
    expose: (app) => {
      if (failAt === 'expose') throw new Error('expose failed');
      return { greeter: app.get(Greeter) };
    },
  };
}

/** What was opened, closed in the reverse order: the journal a clean teardown leaves. */
function reverseOfOpens(journal: Journal): string[] {
  return journal
    .filter((entry) => entry.startsWith('open ') && !['open http', 'open first policy run'].includes(entry))
    .map((entry) => entry.replace(/^open /, 'close '))
    .reverse();
}

const FAILURE_POINTS = [
  'runtime',
  'database',
  'module',
  'app',
  'consumer',
  'first policy run',
  'listen',
  'listener',
  'job sweep',
  'job tick',
  'expose',
];

describe(defineService.name, () => {
  it('starts in order: runtime, database, app, steps before the port, the port, steps after, jobs', async () => {
    const journal: Journal = [];
    const running = await defineService(descriptor(journal, undefined), journalledPorts(journal, undefined)).start(config, logger);
    try {
      expect(journal).toEqual([
        'open runtime',
        'open database hosted',
        'open app',
        'open consumer',
        'open first policy run',
        'open http',
        'open listener',
        'open job sweep',
        'open job tick',
      ]);
      expect(running.greeter.service).toBe('hosted on 127.0.0.1');
      expect(await (await fetch(`${running.url}/greeting`)).json()).toEqual({ service: 'hosted on 127.0.0.1' });
      const document = (await (await fetch(`${running.url}/docs/openapi.json`)).json()) as { info: { title: string } };
      expect(document.info.title).toBe('Rampart hosted');
      expect(running.app.get(SweepJob).logger).toBe(logger);
    } finally {
      await running.close();
    }
  });

  it('closes jobs first, then undoes steps, then Nest, then the runtime and its pool, each in reverse order, once', async () => {
    const journal: Journal = [];
    const running = await defineService(descriptor(journal, undefined), journalledPorts(journal, undefined)).start(config, logger);
    const readiness = running.app.get<Readiness>(READINESS);
    const opens = reverseOfOpens(journal);
    journal.length = 0;
    await Promise.all([running.close(), running.close()]);
    expect(journal).toEqual([
      ...opens.filter((entry) => !entry.includes('runtime') && !entry.includes('database')),
      'close runtime',
      'close database hosted',
    ]);
    expect((await readiness.report()).checks['shutdown']).toEqual({ ok: false, error: 'shutting down' });
  });

  for (const failAt of FAILURE_POINTS) {
    it(`closes exactly what was opened when the start fails at "${failAt}"`, async () => {
      const journal: Journal = [];
      await expect(defineService(descriptor(journal, failAt), journalledPorts(journal, failAt)).start(config, logger)).rejects.toThrow(
        `${failAt} failed`,
      );
      const opened = journal.filter((entry) => entry.startsWith('open '));
      const closed = journal.filter((entry) => entry.startsWith('close '));
      // The pool closes inside the runtime's close (after the bus drains), so it follows `close runtime`.
      const expected = reverseOfOpens(opened).flatMap((entry) =>
        entry === 'close database hosted'
          ? []
          : entry === 'close runtime' && opened.includes('open database hosted')
            ? [entry, 'close database hosted']
            : [entry],
      );
      expect(closed).toEqual(expected);
      if (failAt === 'runtime') expect(journal).toEqual([]);
    });
  }
});
