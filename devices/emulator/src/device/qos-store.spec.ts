import { describe, expect, it } from 'vitest';
import { Outbox } from './outbox.js';
import { QosStore } from './qos-store.js';

/** A store holding keys `from`..`to` (payload: the key as text). */
function filled(capacity: number, from: number, to: number): QosStore<string> {
  let store = QosStore.empty<string>(capacity);
  for (let key = from; key <= to; key++) store = store.add(key, String(key)).store;
  return store;
}

const keys = (store: QosStore<string>) => [...store.entries()].map((entry) => entry.key);

describe(QosStore.name, () => {
  it('keeps entries in key order across many chunks and finds each one', () => {
    const store = filled(1_000, 1, 300);
    expect(store.size).toBe(300);
    expect(keys(store)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    for (const key of [1, 64, 65, 128, 129, 300]) expect(store.get(key)?.payload).toBe(String(key));
    expect(store.get(0)).toBeUndefined();
    expect(store.get(301)).toBeUndefined();
  });

  it('drops the oldest entry when full, and says so', () => {
    const full = filled(100, 1, 100);
    const { store, dropped } = full.add(101, '101');
    expect(dropped).toBe(true);
    expect(store.size).toBe(100);
    expect(keys(store)[0]).toBe(2);
    expect(full.add(101, '101').store.get(1)).toBeUndefined();
    expect(filled(100, 1, 99).add(100, '100').dropped).toBe(false);
  });

  it('leaves the store it was made from as it was', () => {
    const before = filled(1_000, 1, 200);
    const sent = before.sent(70, 5);
    const removed = sent.remove(70).store;
    const failed = sent.failed(70);
    const idle = sent.idle();

    expect(before.get(70)).toEqual({ key: 70, payload: '70', inFlight: false, sentAt: 0 });
    expect(sent.get(70)).toEqual({ key: 70, payload: '70', inFlight: true, sentAt: 5 });
    expect(removed.get(70)).toBeUndefined();
    expect(removed.size).toBe(199);
    expect(sent.size).toBe(200);
    expect(failed.get(70)?.inFlight).toBe(false);
    expect(idle.get(70)).toEqual({ key: 70, payload: '70', inFlight: false, sentAt: 5 });
    expect(sent.get(70)?.inFlight).toBe(true);
  });

  it('returns nothing removed for a key it no longer holds', () => {
    const store = filled(10, 1, 3);
    expect(store.remove(9)).toEqual({ store, entry: undefined });
    const emptied = store.remove(1).store.remove(2).store.remove(3).store;
    expect(emptied.size).toBe(0);
    expect(keys(emptied)).toEqual([]);
    expect(emptied.add(4, '4').store.get(4)?.payload).toBe('4');
  });

  it('refuses a capacity below 1', () => {
    expect(() => QosStore.empty(0)).toThrow(/capacity of at least 1/);
  });
});

describe(Outbox.name, () => {
  it('takes each message once until it is settled or the connection goes, and forgets it when acknowledged', () => {
    const first = Outbox.empty(2).add('a').outbox.add('b').outbox;
    const { outbox: inFlight, taken } = first.takeUnsent();
    expect(taken).toEqual([
      { id: 0, payload: 'a' },
      { id: 1, payload: 'b' },
    ]);
    expect(inFlight.takeUnsent().taken).toEqual([]);
    // The original outbox still has both unsent.
    expect(first.takeUnsent().taken).toHaveLength(2);

    const failed = inFlight.settle(0, false);
    expect(failed.acknowledged).toBe(false);
    expect(failed.outbox.takeUnsent().taken).toEqual([{ id: 0, payload: 'a' }]);

    const acked = inFlight.settle(1, true);
    expect(acked.acknowledged).toBe(true);
    expect(acked.outbox.size).toBe(1);
    expect(acked.outbox.connectionLost().takeUnsent().taken).toEqual([{ id: 0, payload: 'a' }]);
    expect(acked.outbox.add('c').outbox.add('d').dropped).toBe(true);
  });
});
