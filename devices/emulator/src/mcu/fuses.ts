import type { DeviceStateStore } from './state-store.js';

const ENTRY = 'fuses';

interface FuseBank {
  /** One-time-programmable values (key hashes burned at manufacture). */
  readonly burned: Record<string, string>;
  /** Anti-rollback counters, per component; they only go up. */
  readonly counters: Record<string, number>;
}

export class FuseError extends Error {
  override readonly name = 'FuseError';
}

/**
 * The MCU's fuses: values burned once at manufacture, and anti-rollback
 * counters that can only be advanced. Nothing here can lower a counter or
 * re-burn a value — the emulated equivalent of blowing a fuse.
 */
export class Fuses {
  private bank: FuseBank;

  constructor(private readonly store: DeviceStateStore) {
    const raw = store.read(ENTRY);
    this.bank = raw === undefined ? { burned: {}, counters: {} } : (JSON.parse(raw.toString('utf8')) as FuseBank);
  }

  burn(name: string, value: string): void {
    if (name in this.bank.burned) throw new FuseError(`fuse ${name} is already burned`);
    this.bank = { ...this.bank, burned: { ...this.bank.burned, [name]: value } };
    this.persist();
  }

  burned(name: string): string | undefined {
    return this.bank.burned[name];
  }

  counter(component: string): number {
    return this.bank.counters[component] ?? 0;
  }

  /** Raises a counter; lowering one is refused, equal is a no-op. */
  advance(component: string, value: number): void {
    if (!Number.isInteger(value) || value < 0) throw new FuseError(`counter value must be a non-negative integer: ${value}`);
    const current = this.counter(component);
    if (value < current) throw new FuseError(`anti-rollback counter ${component} is ${current}; it cannot go down to ${value}`);
    if (value === current) return;
    this.bank = { ...this.bank, counters: { ...this.bank.counters, [component]: value } };
    this.persist();
  }

  get counters(): Readonly<Record<string, number>> {
    return this.bank.counters;
  }

  private persist(): void {
    this.store.write(ENTRY, Buffer.from(JSON.stringify(this.bank)));
  }
}
