import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { ErrorCode, RequestContracts, isRequestSubject } from '@rampart/contracts';
import { SpanKind, trace, type Tracer } from '@opentelemetry/api';
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
  ) {
    super();
  }

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
              (span) => this.answer(pattern, contract, handler, data).finally(() => span.end()),
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
  ): Promise<Uint8Array> {
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
      return encodeReply({ ok: true, data: reply.data });
    } catch (error) {
      if (!(error instanceof BusError)) this.onHandlerError(pattern, error);
      return encodeReply(errorEnvelope(error));
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
