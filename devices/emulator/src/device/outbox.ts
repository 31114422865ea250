import type { MqttClient } from 'mqtt';

/**
 * Messages a device must deliver at least once (QoS 1): kept while the
 * device is offline, up to `capacity` (then the oldest goes and is
 * counted), and removed only when the broker acknowledges them. Each
 * carries its own sequence number, so a resend is recognised upstream.
 */
export class Outbox {
  private readonly entries: Array<{ readonly payload: string; inFlight: boolean }> = [];

  constructor(
    private readonly topic: string,
    private readonly capacity: number,
    private readonly count: { readonly sent: () => void; readonly dropped: () => void },
  ) {}

  add(payload: string): void {
    if (this.entries.length >= this.capacity) {
      this.entries.shift();
      this.count.dropped();
    }
    this.entries.push({ payload, inFlight: false });
  }

  /** Publishes whatever is not in flight yet. */
  flush(client: MqttClient): void {
    for (const entry of this.entries) {
      if (entry.inFlight) continue;
      entry.inFlight = true;
      client.publish(this.topic, entry.payload, { qos: 1 }, (error) => {
        const at = this.entries.indexOf(entry);
        if (at < 0) return;
        if (error !== undefined && error !== null) {
          entry.inFlight = false;
          return;
        }
        this.entries.splice(at, 1);
        this.count.sent();
      });
    }
  }

  /** The connection went away: nothing is in flight any more, everything waits for the next one. */
  connectionLost(): void {
    for (const entry of this.entries) entry.inFlight = false;
  }

  get size(): number {
    return this.entries.length;
  }
}
