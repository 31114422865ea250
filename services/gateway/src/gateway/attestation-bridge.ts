import { SpanKind, SpanStatusCode, context, trace, type Tracer } from '@opentelemetry/api';
import {
  ErrorCode,
  Subject,
  TRACEPARENT_PATTERN,
  toDeviceErrorCode,
  type AttestationResponse,
  type Tpm2AttestRequest,
} from '@rampart/contracts';
import { BusError, traceContextFrom, type TypedBus } from '@rampart/service-kit';

/**
 * Carries a device's attestation messages to the attestation service over
 * NATS request/reply. The device id is the one the connection proved, never
 * one from the payload; the evidence is passed on as the device sent it.
 */
export class AttestationBridge {
  constructor(
    private readonly bus: TypedBus,
    private readonly tracer: Tracer = trace.getTracer('gateway'),
  ) {}

  /** `deadline` (epoch ms, this host's clock) bounds the wait here; the time left travels with the request, so the service drops it once nobody waits. */
  async requestNonce(deviceId: string, deadline: number): Promise<AttestationResponse> {
    try {
      const reply = await this.bus.request(
        Subject.attestationNonceIssue,
        { deviceId, timeoutMs: timeUntil(deadline) },
        timeUntil(deadline),
      );
      return { type: 'nonce', nonce: reply.nonce, expiresAt: reply.expiresAt };
    } catch (error) {
      return this.error(error);
    }
  }

  /**
   * A TPM 2.0 device's first message (EK certificate, EK and AK publics): the attestation service answers with the
   * nonce inside MakeCredential, or a refusal (an untrusted EK, an AK that is no attestation key).
   */
  async requestTpm2Challenge(deviceId: string, request: Tpm2AttestRequest, deadline: number): Promise<AttestationResponse> {
    try {
      const reply = await this.bus.request(
        Subject.attestationTpm2Challenge,
        { deviceId, request, timeoutMs: timeUntil(deadline) },
        timeUntil(deadline),
      );
      return reply.pass
        ? { type: 'tpm2-credential', ...reply.challenge }
        : { type: 'verdict', verdict: { pass: false, reasons: reply.reasons } };
    } catch (error) {
      return this.error(error);
    }
  }

  async submitEvidence(deviceId: string, payload: Buffer, deadline: number): Promise<AttestationResponse> {
    const evidence = payload.toString('utf8');
    const traceparent = traceparentOf(evidence);
    if (traceparent === undefined) return this.verify(deviceId, evidence, deadline);
    // A traced attestation: this span is the device's child, and the request to the attestation service carries it.
    const span = this.tracer.startSpan(
      'attestation receive',
      { kind: SpanKind.SERVER, attributes: { 'messaging.system': 'mqtt', 'rampart.device_id': deviceId } },
      traceContextFrom({ traceparent }),
    );
    try {
      const answer = await context.with(trace.setSpan(context.active(), span), () => this.verify(deviceId, evidence, deadline));
      if (answer.type === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: answer.message });
      return answer;
    } finally {
      span.end();
    }
  }

  private async verify(deviceId: string, evidence: string, deadline: number): Promise<AttestationResponse> {
    try {
      const verdict = await this.bus.request(
        Subject.attestationEvidenceVerify,
        { deviceId, evidence, timeoutMs: timeUntil(deadline) },
        timeUntil(deadline),
      );
      return { type: 'verdict', verdict };
    } catch (error) {
      return this.error(error);
    }
  }

  private error(error: unknown): AttestationResponse {
    // A code the error table gives no MQTT reason is nothing a device can act on: it sees INTERNAL, without the detail.
    const code = error instanceof BusError ? toDeviceErrorCode(error.code) : ErrorCode.internal;
    return error instanceof BusError && code === error.code
      ? { type: 'error', code, message: error.message }
      : { type: 'error', code, message: 'attestation failed' };
  }
}

function timeUntil(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

/** The trace context a device put in its evidence envelope (beside the signed token, not in it), if it is well formed; the evidence itself is checked by the attestation service. */
function traceparentOf(evidence: string): string | undefined {
  try {
    const envelope: unknown = JSON.parse(evidence);
    const traceparent = (envelope as { traceparent?: unknown } | null)?.traceparent;
    return typeof traceparent === 'string' && TRACEPARENT_PATTERN.test(traceparent) ? traceparent : undefined;
  } catch {
    return undefined;
  }
}
