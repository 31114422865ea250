import { context, trace, type Context, type Link } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

const propagator = new W3CTraceContextPropagator();

const setter = {
  set(carrier: Record<string, string>, key: string, value: string) {
    carrier[key] = value;
  },
};

const getter = {
  get(carrier: Readonly<Record<string, string>>, key: string) {
    return carrier[key];
  },
  keys(carrier: Readonly<Record<string, string>>) {
    return Object.keys(carrier);
  },
};

/** W3C `traceparent`/`tracestate` headers for the active (or given) context. */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, setter);
  return carrier;
}

/** The context W3C headers name (a remote parent), or the active context when they carry none. */
export function traceContextFrom(headers: Readonly<Record<string, string>>): Context {
  return propagator.extract(context.active(), headers, getter);
}

/**
 * A span link to the producer of a message, read from its headers; undefined
 * when the message carries no (valid) trace context. A consumer that writes
 * many messages in one batch links to each producer instead of picking one
 * parent.
 */
export function linkFromHeaders(headers: Readonly<Record<string, string>>): Link | undefined {
  const spanContext = trace.getSpanContext(propagator.extract(context.active(), headers, getter));
  return spanContext !== undefined && trace.isSpanContextValid(spanContext) ? { context: spanContext } : undefined;
}
