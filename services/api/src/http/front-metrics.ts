import type { Meter } from '@opentelemetry/api';
import type { ForwardFailure } from '../proxy/forward.js';

/** The label for requests the front answered itself (unknown path, method not allowed): no upstream was asked. */
export const NO_UPSTREAM = 'none';

/**
 * The front's RED metrics: requests by upstream, method and status class,
 * their durations, and upstream failures by kind. Labels are bounded: the
 * upstream is one of four names (or `none`), never a path.
 */
export class FrontMetrics {
  private readonly requests;
  private readonly duration;
  private readonly failures;

  constructor(meter: Meter, upReport: () => ReadonlyMap<string, boolean>) {
    this.requests = meter.createCounter('rampart_api_requests_total', {
      description: 'Requests through the API front, by upstream, method and status class',
    });
    this.duration = meter.createHistogram('rampart_api_request_duration_seconds', {
      description: 'Time to the end of the answer, by upstream',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] },
    });
    this.failures = meter.createCounter('rampart_api_upstream_errors_total', {
      description: 'Upstream requests that failed, by upstream and kind (unreachable, timeout, failed, bad-request)',
    });
    meter
      .createObservableGauge('rampart_api_upstream_up', { description: '1 when the upstream is reachable and routed' })
      .addCallback((result) => {
        for (const [upstream, up] of upReport()) result.observe(up ? 1 : 0, { upstream });
      });
  }

  answered(upstream: string, method: string, statusCode: number, seconds: number): void {
    const attributes = { upstream, method, status: `${Math.floor(statusCode / 100)}xx` };
    this.requests.add(1, attributes);
    this.duration.record(seconds, { upstream });
  }

  failed(upstream: string, failure: ForwardFailure): void {
    this.failures.add(1, { upstream, kind: failure });
  }
}
