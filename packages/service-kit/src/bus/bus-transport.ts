import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { ErrorCode, RequestContracts, isRequestSubject } from '@rampart/contracts';
import { SpanKind, trace, type Counter, type Histogram, type Meter, type Tracer } from '@opentelemetry/api';
import { lastValueFrom } from 'rxjs';
import { traceContextFrom } from '../trace-context.js';
import { BusError } from './bus-error.js';
import type { Closable, MessageBus } from './message-bus.js';
import { decodeJson, encodeReply, errorEnvelope } from './typed-bus.js';

/**
 * A NestJS microservice transport over `MessageBus`, so `@MessagePattern`
 * handlers answer the same way over NATS (queue groups) and the in-process
 * bus. Each pattern must be a request subject from the contracts package;
 * requests and replies are validated against its schemas here, at the edge,
 * so handlers only ever see valid input.
 */
export class BusTransport extends Server implements CustomTransportStrategy {
  private readonly served: Closable[] = [];

  constructor(
    private readonly bus: MessageBus,
    private readonly queueGroup: string,
    private readonly onHandlerError: (subject: string, error: unknown) => void,
    private readonly tracer: Tracer = trace.getTracer('rampart-bus'),
    meter?: Meter,
  ) {
    super();
    this.requests = meter?.createCounter('rampart_bus_requests_total', { description: 'Bus requests answered, by subject and outcome' });
    this.duration = meter?.createHistogram('rampart_bus_request_duration_seconds', {
      description: 'Time to answer a bus request, by subject',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] },
    });
  }

  private readonly requests: Counter | undefined;
  private readonly duration: Histogram | undefined;

  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    try {
      for (const [pattern, handler] of this.getHandlers()) {
        if (!isRequestSubject(pattern)) throw new Error(`@MessagePattern('${pattern}') is not a request subject in the contracts`);
        const contract = RequestContracts[pattern];
        this.served.push(
          this.bus.serve(pattern, this.queueGroup, (data, headers) =>
            // Each request is a span, a child of the requester's when its headers carry a trace.
            this.tracer.startActiveSpan(
              `${pattern} handle`,
              { kind: SpanKind.SERVER, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': pattern } },
              traceContextFrom(headers),
              (span) => {
                const started = performance.now();
                return this.answer(pattern, contract, handler, data).then((answer) => {
                  span.end();
                  // RED per subject: the outcome is the reply envelope's (ok, or its error code).
                  this.requests?.add(1, { subject: pattern, outcome: answer.outcome });
                  this.duration?.record((performance.now() - started) / 1000, { subject: pattern });
                  return answer.reply;
                });
              },
            ),
          ),
        );
      }
      callback();
    } catch (error) {
      callback(error);
    }
  }

  private async answer(
    pattern: string,
    contract: (typeof RequestContracts)[keyof typeof RequestContracts],
    handler: (data: unknown) => Promise<unknown>,
    data: Uint8Array,
  ): Promise<{ reply: Uint8Array; outcome: string }> {
    try {
      let decoded: unknown;
      try {
        decoded = decodeJson(data);
      } catch {
        throw new BusError(ErrorCode.badRequest, 'request is not JSON');
      }
      const request = contract.request.safeParse(decoded);
      if (!request.success) throw new BusError(ErrorCode.badRequest, request.error.message);
      const result: unknown = await lastValueFrom(this.transformToObservable(await handler(request.data)));
      const reply = contract.reply.safeParse(result);
      if (!reply.success) throw new Error(`handler for ${pattern} broke its reply contract: ${reply.error.message}`);
      return { reply: encodeReply({ ok: true, data: reply.data }), outcome: 'ok' };
    } catch (error) {
      if (!(error instanceof BusError)) this.onHandlerError(pattern, error);
      const envelope = errorEnvelope(error);
      return { reply: encodeReply(envelope), outcome: envelope.ok ? 'ok' : (envelope.error?.code ?? 'INTERNAL') };
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.served.splice(0).map((s) => s.close()));
  }

  on(): never {
    throw new Error('BusTransport has no events');
  }

  unwrap<T>(): T {
    return this.bus as T;
  }
}
