/**
 * The store's in-memory window of recent messages (simulator/src/store/recent-messages.ts): a byte budget,
 * oldest out first, deletion, copies of the property bags.
 */
import { describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD_BYTES, RecentMessages } from '../src/store/recent-messages.js';
import type { Message } from '../src/store/index.js';

function msg(n: number, bytes: number): Message {
  return { properties: { n: String(n) }, systemProperties: { messageId: `m-${n}` }, body: new Uint8Array(bytes).fill(n), enqueuedAt: n };
}

describe('RecentMessages', () => {
  it('keeps messages up to its byte budget, dropping the oldest first', () => {
    const cost = 100 + ENTRY_OVERHEAD_BYTES;
    const recent = new RecentMessages(2.5 * cost);
    for (let n = 1; n <= 4; n++) recent.add(n, msg(n, 100));
    expect(recent.size).toBe(2);
    expect(recent.bytes).toBe(2 * cost);
    expect(recent.get(1)).toBeUndefined();
    expect(recent.get(2)).toBeUndefined();
    expect(recent.get(3)?.body[0]).toBe(3);
    expect(recent.get(4)?.body[0]).toBe(4);
  });

  it('forgets a deleted message and counts its bytes out; deleting twice or an unknown offset does nothing', () => {
    const recent = new RecentMessages(10_000);
    recent.add(1, msg(1, 100));
    recent.add(2, msg(2, 50));
    recent.delete(1);
    recent.delete(1);
    recent.delete(99);
    expect(recent.get(1)).toBeUndefined();
    expect(recent.size).toBe(1);
    expect(recent.bytes).toBe(50 + ENTRY_OVERHEAD_BYTES);
  });

  it('keeps nothing with a budget of 0, and no message costing more than the budget', () => {
    const none = new RecentMessages(0);
    none.add(1, msg(1, 1));
    expect(none.size).toBe(0);
    const small = new RecentMessages(100 + ENTRY_OVERHEAD_BYTES);
    small.add(1, msg(1, 60));
    small.add(2, msg(2, 101));
    expect(small.get(2)).toBeUndefined();
    expect(small.get(1)?.body[0]).toBe(1);
    expect(small.bytes).toBe(60 + ENTRY_OVERHEAD_BYTES);
  });

  it('keeps frozen copies of the property bags', () => {
    const recent = new RecentMessages(10_000);
    const m = { ...msg(1, 10), properties: { a: '1' } as Record<string, string> };
    recent.add(1, m);
    m.properties['a'] = '2';
    const kept = recent.get(1);
    expect(kept?.properties).toEqual({ a: '1' });
    expect(Object.isFrozen(kept?.properties)).toBe(true);
    expect(Object.isFrozen(kept?.systemProperties)).toBe(true);
  });
});
