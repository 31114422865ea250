import {
  ErrorCode,
  RequestContracts,
  toWireErrorCode,
  type ReplyOf,
  type RequestOf,
  type RequestSubject,
  type WireError,
} from '@rampart/contracts';
import { traceHeaders } from '../trace-context.js';
import { BusError } from './bus-error.js';
import type { MessageBus } from './message-bus.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/**
 * The reply envelope on the wire: `{ ok: true, data }` or
 * `{ ok: false, error: { code, message } }`. Unknown codes become INTERNAL.
 */
type Envelope = { ok: true; data: unknown } | { ok: false; error: WireError };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeJson(data: Uint8Array): unknown {
  return JSON.parse(decoder.decode(data));
}

export function encodeReply(envelope: Envelope): Uint8Array {
  return encodeJson(envelope);
}

export function errorEnvelope(error: unknown): Envelope {
  if (error instanceof BusError) return { ok: false, error: { code: error.code, message: error.message } };
  const code = toWireErrorCode((error as { code?: unknown } | null)?.code);
  // Internal errors keep their detail in the service's log, not on the wire.
  const message = code === ErrorCode.internal ? 'internal error' : String((error as Error).message);
  return { ok: false, error: { code, message } };
}

/** Request/reply with the contracts' schemas checked on both ends. */
export class TypedBus {
  constructor(private readonly bus: MessageBus) {}

  async request<S extends RequestSubject>(subject: S, request: RequestOf<S>, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<ReplyOf<S>> {
    const contract = RequestContracts[subject];
    const checked = contract.request.safeParse(request);
    if (!checked.success) throw new BusError(ErrorCode.badRequest, `invalid request for ${subject}: ${checked.error.message}`);
    // The caller's trace goes with the request (NATS headers), so the answering service's span joins it.
    const raw = await this.bus.request(subject, encodeJson(checked.data), timeoutMs, traceHeaders());
    let envelope: Envelope;
    try {
      envelope = decodeJson(raw) as Envelope;
    } catch (error) {
      throw new BusError(ErrorCode.internal, `unreadable reply on ${subject}`, { cause: error });
    }
    if (!envelope.ok) throw new BusError(toWireErrorCode(envelope.error?.code), envelope.error?.message ?? 'error');
    const reply = contract.reply.safeParse(envelope.data);
    if (!reply.success) throw new BusError(ErrorCode.internal, `reply on ${subject} breaks its contract: ${reply.error.message}`);
    return reply.data as ReplyOf<S>;
  }
}
