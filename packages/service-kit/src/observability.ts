import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, type Meter, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';

export const DEFAULT_METRIC_EXPORT_INTERVAL_MS = 15_000;
/** Fraction of root traces kept; device traffic is high-volume. */
export const DEFAULT_TRACE_SAMPLE_RATIO = 0.05;

export interface ObservabilityOptions {
  readonly serviceName: string;
  readonly otlpEndpoint?: string | undefined;
  readonly traceSampleRatio?: number;
  /** Extra span processors (tests use an in-memory exporter). */
  readonly spanProcessors?: readonly SpanProcessor[];
  readonly onExportError?: (error: unknown) => void;
}

/**
 * One service's telemetry: its own meter and tracer providers (not the
 * global ones, so several services can share a process in embedded mode),
 * a Prometheus scrape handler, and OTLP export when an endpoint is set.
 * Export failures are reported, never thrown into the service.
 */
export class Observability {
  readonly meter: Meter;
  readonly tracer: Tracer;
  private readonly prometheus: PrometheusExporter;
  private readonly meterProvider: MeterProvider;
  private readonly tracerProvider: TracerProvider;

  constructor(options: ObservabilityOptions) {
    ensureContextManager();
    const resource = resourceFromAttributes({ 'service.name': options.serviceName, 'service.namespace': 'rampart' });
    this.prometheus = new PrometheusExporter({ preventServerStart: true });
    const readers: MetricReader[] = [this.prometheus];
    const spanProcessors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
    if (options.otlpEndpoint !== undefined) {
      const base = options.otlpEndpoint.replace(/\/$/, '');
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }),
          exportIntervalMillis: DEFAULT_METRIC_EXPORT_INTERVAL_MS,
        }),
      );
      spanProcessors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${base}/v1/traces` }) }));
    }
    this.meterProvider = new MeterProvider({ resource, readers });
    this.tracerProvider = new TracerProvider({
      resource,
      // Decided by trace id, so every service makes the same decision for a trace; and a remote parent's
      // "sampled" flag (a device's, in its payload) does not force tracing: a device cannot make the platform
      // trace every reading it sends.
      sampler: new ParentBasedSampler({
        root: new TraceIdRatioBasedSampler(options.traceSampleRatio ?? DEFAULT_TRACE_SAMPLE_RATIO),
        remoteParentSampled: new TraceIdRatioBasedSampler(options.traceSampleRatio ?? DEFAULT_TRACE_SAMPLE_RATIO),
      }),
      spanProcessors,
    });
    this.meter = countingFromZero(this.meterProvider.getMeter(options.serviceName));
    this.tracer = this.tracerProvider.getTracer(options.serviceName);
  }

  /** Serves the Prometheus text format. */
  handleScrape(request: IncomingMessage, response: ServerResponse): void {
    this.prometheus.getMetricsRequestHandler(request, response);
  }

  async shutdown(): Promise<void> {
    await Promise.allSettled([this.meterProvider.shutdown(), this.tracerProvider.shutdown()]);
  }
}

/**
 * A meter whose counters exist from the start at 0. An OpenTelemetry
 * counter is exported only once something is added to it, so a counter of
 * rare events (denials, shed load, webhook failures) would be missing from
 * scrapes until the first one: dashboards show "no data" instead of 0,
 * `rate()` misses the first increase, and an alert on it cannot fire.
 */
function countingFromZero(meter: Meter): Meter {
  return new Proxy(meter, {
    get(target, property, receiver) {
      const original: unknown = Reflect.get(target, property, receiver);
      if ((property === 'createCounter' || property === 'createUpDownCounter') && typeof original === 'function') {
        return (...args: unknown[]) => {
          const instrument = (original as (...a: unknown[]) => { add(value: number): void }).apply(target, args);
          instrument.add(0);
          return instrument;
        };
      }
      return typeof original === 'function' ? (original as (...a: unknown[]) => unknown).bind(target) : original;
    },
  });
}

let contextManagerSet = false;
/** Active-span tracking is process-wide; set it up once. */
function ensureContextManager(): void {
  if (contextManagerSet) return;
  contextManagerSet = context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}
