import type { Counter, Meter } from '@opentelemetry/api';
import type { DenialReasonValue } from '@rampart/contracts';
import type { MqttMetrics, ShedReason } from '../mqtt/metrics.js';

/** Counters the gateway exports; every denial and every shed message is counted. */
export class GatewayMetrics implements MqttMetrics {
  private readonly connections: Counter;
  private readonly messages: Counter;
  private readonly denials: Counter;
  private readonly shed: Counter;
  private readonly bridged: Counter;
  private readonly bridgeErrors: Counter;
  /** Plain tallies for reports and tests; the OTel instruments feed /metrics. */
  readonly totals = {
    connectionsAccepted: 0,
    connectionsRefused: 0,
    messagesIn: 0,
    denials: {} as Record<string, number>,
    shed: {} as Record<string, number>,
    bridged: 0,
    bridgeErrors: 0,
  };

  constructor(meter: Meter, inFlight: () => number, waiting: () => number, sessions: () => number) {
    this.connections = meter.createCounter('rampart_gateway_connections_total', { description: 'MQTT connections by result' });
    // Read from the live sessions, never added and subtracted from events: a count that misses one event drifts for ever.
    meter
      .createObservableGauge('rampart_gateway_connections_active', { description: 'Connected devices (MQTT sessions past CONNACK)' })
      .addCallback((result) => result.observe(sessions()));
    this.messages = meter.createCounter('rampart_gateway_messages_total', { description: 'PUBLISH packets received from devices' });
    this.denials = meter.createCounter('rampart_gateway_denials_total', {
      description: 'Refused connections, publishes and subscriptions by reason',
    });
    this.shed = meter.createCounter('rampart_gateway_shed_total', {
      description: 'Device messages dropped to protect the gateway, by reason',
    });
    this.bridged = meter.createCounter('rampart_gateway_bridged_total', { description: 'Readings stored in the telemetry stream' });
    this.bridgeErrors = meter.createCounter('rampart_gateway_bridge_errors_total', { description: 'Stream publishes that failed' });
    meter
      .createObservableGauge('rampart_gateway_bridge_in_flight', { description: 'Readings being written to the stream' })
      .addCallback((result) => result.observe(inFlight()));
    meter
      .createObservableGauge('rampart_gateway_bridge_waiting', { description: 'Publishes waiting for a bridge slot' })
      .addCallback((result) => result.observe(waiting()));
  }

  connectionAccepted(): void {
    this.totals.connectionsAccepted++;
    this.connections.add(1, { result: 'accepted' });
  }

  connectionRefused(reason: DenialReasonValue): void {
    this.totals.connectionsRefused++;
    this.connections.add(1, { result: 'refused' });
    this.denied(reason);
  }

  messageIn(kind: string): void {
    this.totals.messagesIn++;
    this.messages.add(1, { kind });
  }

  denied(reason: DenialReasonValue): void {
    this.totals.denials[reason] = (this.totals.denials[reason] ?? 0) + 1;
    this.denials.add(1, { reason });
  }

  shedMessage(reason: ShedReason): void {
    this.totals.shed[reason] = (this.totals.shed[reason] ?? 0) + 1;
    this.shed.add(1, { reason });
  }

  bridgedReading(): void {
    this.totals.bridged++;
    this.bridged.add(1);
  }

  bridgeFailed(): void {
    this.totals.bridgeErrors++;
    this.bridgeErrors.add(1);
  }
}
