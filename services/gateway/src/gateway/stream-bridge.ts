import { DenialReason, type DenialReasonValue, type StreamDefinition } from '@rampart/contracts';
import { openStream, type Clock, type MessageBus, type StreamLimits } from '@rampart/service-kit';
import type { ZodType } from 'zod';
import type { BridgeOutcome, PayloadForwarder } from '../mqtt/publish/bridges.js';
import type { StreamBatcher } from './stream-batcher.js';

/**
 * Why a payload that parsed is still refused (a reading from outside the
 * accepted time window, say). A class, so the bridge tells it from a stream
 * item by `instanceof`, whatever fields an item has; made only on refusal.
 */
export class PayloadRefusal {
  constructor(
    readonly reason: DenialReasonValue,
    readonly detail: string,
  ) {}
}

/** One kind of device message: its payload rule (size, schema, item) and how the item travels. */
export interface PayloadRule<Parsed, Item> {
  /** Payloads over this many bytes are refused before parsing; undefined leaves it to the packet size limit. */
  readonly maxBytes: number | undefined;
  readonly schema: ZodType<Parsed>;
  /** The stream item, with the device id and tenant the connection proved (never ones from the payload), or a refusal. */
  readonly toItem: (deviceId: string, tenantId: string | null, receivedAt: number, parsed: Parsed) => Item | PayloadRefusal;
  readonly batcher: StreamBatcher<Item>;
  /** Puts an item in its batch, settling once the stream holds it; `batcher.add` unless the rule wraps it (in a span, say). */
  readonly store?: (deviceId: string, item: Item) => Promise<void>;
}

/** Type-checks a rule against its own payload and item types, then erases them for the bridge's table. */
export function payloadRule<Parsed, Item>(rule: PayloadRule<Parsed, Item>): PayloadRule<unknown, unknown> {
  return rule as PayloadRule<unknown, unknown>;
}

/** The stream a bridge feeds, and the limits the gateway sets on it when it owns it. */
export interface BridgedStream {
  readonly definition: StreamDefinition;
  readonly ownerLimits?: StreamLimits | undefined;
}

const STORED: BridgeOutcome = Object.freeze({ kind: 'stored' });

/**
 * Turns a device's PUBLISH into an item on a JetStream stream, packed with
 * other devices' items (one stream round trip for many). The payload is
 * hostile until it parses against the contract; the device id and tenant
 * are the ones the connection proved. Each item's identity (device id +
 * sequence) makes a resend after a lost PUBACK a no-op where it is stored.
 */
export class StreamBridge<Kind extends string> implements PayloadForwarder<Kind> {
  constructor(
    private readonly bus: MessageBus,
    private readonly clock: Clock,
    private readonly stream: BridgedStream,
    private readonly rules: Readonly<Record<Kind, PayloadRule<unknown, unknown>>>,
  ) {}

  async start(): Promise<void> {
    await openStream(this.bus, this.stream.definition, 'gateway', this.stream.ownerLimits);
  }

  async forward(kind: Kind, deviceId: string, tenantId: string | null, payload: Buffer): Promise<BridgeOutcome> {
    const rule = this.rules[kind];
    if (rule.maxBytes !== undefined && payload.length > rule.maxBytes) {
      return { kind: 'rejected', reason: DenialReason.malformedPayload, detail: `${kind} over ${rule.maxBytes} bytes` };
    }
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      return { kind: 'rejected', reason: DenialReason.malformedPayload, detail: 'payload is not JSON' };
    }
    const parsed = rule.schema.safeParse(json);
    if (!parsed.success) {
      return { kind: 'rejected', reason: DenialReason.malformedPayload, detail: parsed.error.issues[0]?.message ?? 'invalid' };
    }
    const item = rule.toItem(deviceId, tenantId, this.clock.now(), parsed.data);
    if (item instanceof PayloadRefusal) return { kind: 'rejected', reason: item.reason, detail: item.detail };
    await (rule.store === undefined ? rule.batcher.add(item) : rule.store(deviceId, item));
    return STORED;
  }

  /** Sends what is waiting (at shutdown) and resolves once the stream has answered. */
  async drain(): Promise<void> {
    await Promise.all(Object.values<PayloadRule<unknown, unknown>>(this.rules).map((rule) => rule.batcher.drain()));
  }
}
