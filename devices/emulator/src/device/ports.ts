import type { SecureContext } from 'node:tls';

/**
 * The ports a device runs on. The device's logic (`step`) never
 * touches a socket, a timer or the clock itself: the shell
 * (`EmulatedDevice`) performs its effects through these, so a test can run
 * a device in virtual time with a seeded random source, and a fleet can run
 * thousands of devices in one process.
 */

/** Where and how to open one MQTT connection. */
export interface ConnectionRequest {
  readonly clientId: string;
  readonly host: string;
  readonly port: number;
  /** TLS with this context (client certificate and trusted server CA); plain MQTT when absent. */
  readonly tls?: { readonly secureContext: SecureContext; readonly servername: string };
}

/** What a connection reports. Never called synchronously from `open`, and never again once the connection is closed. */
export interface ConnectionListener {
  /** The broker accepted the connection (CONNACK). */
  readonly connected: () => void;
  readonly message: (topic: string, payload: Buffer) => void;
  /** The connection failed or went away (called at most once). */
  readonly lost: () => void;
}

/** One open MQTT connection; every publish and subscription is QoS 1. */
export interface MqttConnection {
  /** `done` gets an error when the broker refused or the connection went first. */
  subscribe(topics: readonly string[], done: (error?: Error) => void): void;
  /** `done`, when given, is told of the PUBACK (no error) or of the failure. */
  publish(topic: string, payload: string | Buffer, done?: (error?: Error) => void): void;
  /** Drops the connection at once; the listener hears nothing more. */
  close(): void;
  /** Disconnects cleanly (DISCONNECT, then the socket closes). */
  end(): Promise<void>;
}

/** The MQTT client side: `MqttJsTransport` implements it on mqtt.js. */
export interface MqttTransport {
  open(request: ConnectionRequest, listener: ConnectionListener): MqttConnection;
}

declare const timerHandle: unique symbol;

/** A timer the clock started: opaque, good only for handing back to the same clock's `clearTimer`. */
export interface TimerHandle {
  readonly [timerHandle]: true;
}

/** Time and timers, injected so a device (and its OS) can run in virtual time (`VirtualClock`) or real time (`realClock`). */
export interface Clock {
  readonly now: () => number;
  readonly setTimer: (fn: () => void, ms: number) => TimerHandle;
  /** Cancels `timer` (nothing for undefined or a timer that already fired). */
  readonly clearTimer: (timer: TimerHandle | undefined) => void;
}
