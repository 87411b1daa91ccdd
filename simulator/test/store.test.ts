/**
 * The message store's behaviour on a real SQLite file: delivery order, TTL expiry, per-endpoint
 * independence, shared messages, reopening, route changes, one owner at a time, bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageStore, type Message, type MessageStoreOptions, type QueuedMessage } from '../src/store/index.js';
import { ENTRY_OVERHEAD_BYTES } from '../src/store/recent-messages.js';

let root: string;
let files = 0;
beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'ferry-store-')); });
afterAll(() => rmSync(root, { recursive: true, force: true }));

function freshFile(): string {
  return join(root, `store-${++files}.db`);
}

/** A clock the test moves by hand (TTLs of hours become testable without waiting). */
function manualClock(start = 1_750_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

function msg(n: number, extra: Partial<Message> = {}): Message {
  return {
    properties: { n: String(n), kind: 'test' },
    systemProperties: { messageId: `m-${n}`, contentType: 'application/json', contentEncoding: 'utf-8' },
    body: new TextEncoder().encode(JSON.stringify({ n })),
    enqueuedAt: 1_750_000_000_000 + n,
    ...extra,
  };
}

const ns = (page: QueuedMessage[]) => page.map((q) => Number(q.message.properties.n));

function open(file: string, options?: MessageStoreOptions): MessageStore {
  return MessageStore.open(file, options);
}

// Each behaviour holds whether a message is handed out from memory (just appended) or read from the file.
describe.each([
  ['handed out from memory', {}],
  ['read back from the file', { recentBytes: 0 }],
] as const)('%s', (_how, variant: MessageStoreOptions) => {
  describe('delivery order', () => {
    it('hands out the highest priority first, then offset order, and new urgent messages overtake a backlog', async () => {
      const store = open(freshFile(), variant);
      const priorities = [5, 0, 9, 5, 0, 1, 9, 1, 5, 0];
      const offsets = await Promise.all(priorities.map((p, n) => store.append(msg(n), [{ endpoint: 'up', priority: p }])));
      // Offsets grow in append order.
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      expect(new Set(offsets).size).toBe(offsets.length);

      const first = store.next('up', 4);
      expect(ns(first)).toEqual([1, 4, 9, 5]);
      expect(first.map((q) => q.priority)).toEqual([0, 0, 0, 1]);
      // A priority 0 message arriving now comes before the rest of the lower-priority backlog.
      await store.append(msg(10), [{ endpoint: 'up', priority: 0 }]);
      expect(ns(store.next('up', 3))).toEqual([10, 7, 0]);
      expect(ns(store.next('up', 100))).toEqual([3, 8, 2, 6]);
      expect(store.next('up', 100)).toEqual([]);
      store.close();
    });

    it('keeps one delivery per endpoint at the best priority when a message is routed there twice', async () => {
      const store = open(freshFile(), variant);
      await store.append(msg(1), [{ endpoint: 'up', priority: 7 }]);
      await store.append(msg(2), [{ endpoint: 'up', priority: 8 }, { endpoint: 'up', priority: 3 }]);
      const page = store.next('up', 10);
      expect(ns(page)).toEqual([2, 1]);
      expect(page[0]!.priority).toBe(3);
      expect(store.pending('up')).toBe(2);
      store.close();
    });

    it('gives back the exact message: property bags, bytes, enqueuedAt', async () => {
      const store = open(freshFile(), variant);
      const body = new Uint8Array([0, 255, 1, 254, 0x7f, 0x80]);
      const original = msg(7, { body, properties: { 'a b': 'ü€', empty: '' }, systemProperties: {} });
      const offset = await store.append(original, [{ endpoint: 'up', priority: 0 }]);
      const [got] = store.next('up', 1);
      expect(got!.offset).toBe(offset);
      expect(got!.message.properties).toEqual(original.properties);
      expect(got!.message.systemProperties).toEqual({});
      expect(Buffer.from(got!.message.body).equals(Buffer.from(body))).toBe(true);
      expect(got!.message.enqueuedAt).toBe(original.enqueuedAt);
      store.close();
    });

    it('hands out unacknowledged messages again after rewind (the endpoint went away before its PUBACKs)', async () => {
      const store = open(freshFile(), variant);
      const offsets = await Promise.all([0, 1, 2, 3].map((n) => store.append(msg(n), [{ endpoint: 'mod', priority: 0 }])));
      expect(ns(store.next('mod', 10))).toEqual([0, 1, 2, 3]);
      expect(store.ack('mod', [offsets[0]!, offsets[2]!])).toBe(2);
      expect(store.next('mod', 10)).toEqual([]);
      store.rewind('mod');
      expect(ns(store.next('mod', 10))).toEqual([1, 3]);
      store.close();
    });
  });

  describe('time to live', () => {
    it('drops messages past their TTL and counts them as expired, per endpoint', async () => {
      const clock = manualClock();
      const store = open(freshFile(), { ...variant, now: clock.now, timeToLiveSecs: 7200 });
      await store.append(msg(0), [{ endpoint: 'up', priority: 0, ttlSecs: 60 }, { endpoint: 'mod', priority: 0 }]);
      await store.append(msg(1), [{ endpoint: 'up', priority: 0, ttlSecs: 0 }]); // 0: the store's default, 7200 s
      await store.append(msg(2), [{ endpoint: 'up', priority: 1, ttlSecs: 10 }]);
      expect(store.pending('up')).toBe(3);

      clock.advance(30_000); // msg 2 (10 s) is past its TTL, msg 0 (60 s) is not
      expect(ns(store.next('up', 10))).toEqual([0, 1]);
      let stats = store.stats().endpoints.find((e) => e.endpoint === 'up')!;
      expect(stats).toMatchObject({ pending: 2, expired: 1, delivered: 0 });

      store.rewind('up');
      clock.advance(60_000); // msg 0 has expired for `up`; `mod` has the default TTL and still has it
      expect(ns(store.next('up', 10))).toEqual([1]);
      expect(ns(store.next('mod', 10))).toEqual([0]);
      stats = store.stats().endpoints.find((e) => e.endpoint === 'up')!;
      expect(stats).toMatchObject({ pending: 1, expired: 2 });
      expect(store.stats().endpoints.find((e) => e.endpoint === 'mod')).toMatchObject({ pending: 1, expired: 0 });
      expect(store.stats().messages).toBe(2); // msg 0 still needed by `mod`; msg 2 gone

      clock.advance(7200_000);
      expect(store.next('up', 10)).toEqual([]);
      expect(store.next('mod', 10)).toEqual([]);
      const all = store.stats();
      expect(all.messages).toBe(0);
      expect(all.endpoints.map((e) => [e.endpoint, e.pending, e.expired])).toEqual([['up', 0, 3], ['mod', 0, 1]]);
      store.close();
    });

    it('applies a changed default TTL to messages appended after the change only', async () => {
      const clock = manualClock();
      const store = open(freshFile(), { ...variant, now: clock.now, timeToLiveSecs: 100 });
      await store.append(msg(0), [{ endpoint: 'up', priority: 0 }]);
      store.setDefaultTimeToLive(10);
      await store.append(msg(1), [{ endpoint: 'up', priority: 0 }]);
      clock.advance(50_000);
      expect(ns(store.next('up', 10))).toEqual([0]);
      store.close();
    });
  });

  describe('endpoints', () => {
    it('an offline endpoint holds no other endpoint back', async () => {
      const store = open(freshFile(), variant);
      for (let n = 0; n < 50; n++) await store.append(msg(n), [{ endpoint: 'offline', priority: 0 }, { endpoint: 'online', priority: 0 }]);
      let delivered = 0;
      for (;;) {
        const page = store.next('online', 7);
        if (page.length === 0) break;
        delivered += store.ack('online', page.map((q) => q.offset));
      }
      expect(delivered).toBe(50);
      expect(store.pending('online')).toBe(0);
      expect(store.pending('offline')).toBe(50);
      const stats = store.stats();
      expect(stats.messages).toBe(50);
      expect(stats.endpoints.find((e) => e.endpoint === 'online')).toMatchObject({ pending: 0, delivered: 50, oldestAgeMs: 0 });
      expect(stats.endpoints.find((e) => e.endpoint === 'offline')).toMatchObject({ pending: 50, delivered: 0 });
      store.close();
    });

    it('deletes a message shared by two endpoints only after both acknowledged it', async () => {
      const file = freshFile();
      const store = open(file, variant);
      const offset = await store.append(msg(1), [{ endpoint: 'a', priority: 0 }, { endpoint: 'b', priority: 4 }]);
      const rows = () => store.stats().messages;
      expect(rows()).toBe(1);
      expect(store.ack('a', [offset])).toBe(1);
      expect(store.ack('a', [offset])).toBe(0); // twice is harmless
      expect(rows()).toBe(1);
      expect(ns(store.next('b', 10))).toEqual([1]);
      expect(store.ack('b', [offset, 999_999])).toBe(1);
      expect(rows()).toBe(0);
      store.close();
      // And really gone from the file, not only from the counters.
      const db = new Database(file, { readonly: true });
      expect(db.prepare('SELECT count(*) AS n FROM messages').get()).toEqual({ n: 0 });
      db.close();
    });

    it('keeps queues across route changes and drops an endpoint no route uses any more', async () => {
      const store = open(freshFile(), variant);
      const o1 = await store.append(msg(1), [{ endpoint: 'old', priority: 0 }, { endpoint: 'kept', priority: 0 }]);
      await store.append(msg(2), [{ endpoint: 'old', priority: 0 }]);
      expect(store.endpoints().sort()).toEqual(['kept', 'old']);
      expect(store.removeEndpoint('old')).toBe(2);
      expect(store.removeEndpoint('old')).toBe(0);
      expect(store.endpoints()).toEqual(['kept']);
      expect(store.stats().messages).toBe(1); // msg 2 was only for `old`
      expect(store.next('kept', 10).map((q) => q.offset)).toEqual([o1]);
      // A route that names it again starts a fresh queue.
      await store.append(msg(3), [{ endpoint: 'old', priority: 0 }]);
      expect(ns(store.next('old', 10))).toEqual([3]);
      store.close();
    });
  });
});

describe('messages kept in memory', () => {
  it('hands out a page mixing remembered and file-read messages in queue order, equal to a read from the file', async () => {
    const file = freshFile();
    const body = (n: number) => new Uint8Array(1000).fill(n);
    // Room for three messages: the five oldest are read from the file, the three newest come from memory.
    const store = open(file, { recentBytes: 3 * (1000 + ENTRY_OVERHEAD_BYTES) });
    const offsets: number[] = [];
    for (let n = 0; n < 8; n++) offsets.push(await store.append(msg(n, { body: body(n) }), [{ endpoint: 'up', priority: 0 }]));
    const mixed = store.next('up', 100);
    expect(mixed.map((q) => q.offset)).toEqual(offsets);
    expect(mixed.map((q) => q.message.body[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    store.close();
    const fromFile = open(file, { recentBytes: 0 });
    const read = fromFile.next('up', 100);
    expect(read.map((q) => ({ ...q, message: { ...q.message, body: Buffer.from(q.message.body) } })))
      .toEqual(mixed.map((q) => ({ ...q, message: { ...q.message, body: Buffer.from(q.message.body) } })));
    fromFile.close();
  });

  it('keeps what was appended, not what the caller changed afterwards', async () => {
    const store = open(freshFile());
    const m = { ...msg(1), properties: { n: '1', kind: 'test' } as Record<string, string> };
    await store.append(m, [{ endpoint: 'up', priority: 0 }]);
    m.properties['kind'] = 'changed';
    const [got] = store.next('up', 1);
    expect(got!.message.properties).toEqual({ n: '1', kind: 'test' });
    store.close();
  });
});

describe('durability and ownership', () => {
  it('keeps queues, counters and offsets across close and reopen', async () => {
    const file = freshFile();
    let store = open(file);
    const offsets = await Promise.all([0, 1, 2, 3, 4].map((n) => store.append(msg(n), [{ endpoint: 'up', priority: n % 2 }, { endpoint: 'mod', priority: 0 }])));
    store.ack('up', [offsets[1]!]);
    store.ack('mod', offsets);
    store.close();
    expect(() => store.next('up', 1)).toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_STORE_CLOSED' }));
    await expect(store.append(msg(9), [{ endpoint: 'up', priority: 0 }])).rejects.toMatchObject({ code: 'FERRY_E_SIM_STORE_CLOSED' });

    store = open(file);
    expect(store.endpoints().sort()).toEqual(['mod', 'up']);
    expect(store.pending('up')).toBe(4);
    expect(ns(store.next('up', 10))).toEqual([0, 2, 4, 3]);
    const stats = store.stats();
    expect(stats.messages).toBe(4);
    expect(stats.endpoints.find((e) => e.endpoint === 'mod')).toMatchObject({ pending: 0, delivered: 5, checkpoint: offsets[4] });
    expect(stats.endpoints.find((e) => e.endpoint === 'up')).toMatchObject({ delivered: 1, checkpoint: offsets[1] });
    // Offsets keep growing even after the newest message was deleted.
    store.ack('up', offsets);
    expect(store.stats().messages).toBe(0);
    const next = await store.append(msg(5), [{ endpoint: 'up', priority: 0 }]);
    expect(next).toBeGreaterThan(offsets[4]!);
    store.close();
  });

  it('commits appends still waiting for their turn when closed', async () => {
    const file = freshFile();
    const store = open(file);
    const pending = [0, 1, 2].map((n) => store.append(msg(n), [{ endpoint: 'up', priority: 0 }]));
    store.close();
    expect(new Set(await Promise.all(pending)).size).toBe(3);
    const again = open(file);
    expect(ns(again.next('up', 10))).toEqual([0, 1, 2]);
    again.close();
  });

  it('lets one owner at a time open a store', () => {
    const file = freshFile();
    const store = open(file);
    expect(() => open(file)).toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_STORE_BUSY' }));
    store.close();
    open(file).close();
  });

  it('refuses a file that is not a message store, and a newer schema', () => {
    const notDb = freshFile();
    writeFileSync(notDb, 'this is not an SQLite database at all, just some text '.repeat(200));
    expect(() => open(notDb)).toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_STORE_CORRUPT' }));

    const newer = freshFile();
    open(newer).close();
    const db = new Database(newer);
    db.pragma('user_version = 99');
    db.close();
    expect(() => open(newer)).toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_STORE_SCHEMA' }));
  });
});

describe('bad input', () => {
  it('rejects appends the router should never make, and stores nothing for them', async () => {
    const store = open(freshFile());
    const bad: Array<[Message, Parameters<MessageStore['append']>[1]]> = [
      [msg(1), []],
      [msg(1), [{ endpoint: '', priority: 0 }]],
      [msg(1), [{ endpoint: 'up', priority: 10 }]],
      [msg(1), [{ endpoint: 'up', priority: 1.5 }]],
      [msg(1), [{ endpoint: 'up', priority: 0, ttlSecs: -1 }]],
      [msg(1), [{ endpoint: 'up', priority: 0, ttlSecs: Number.NaN }]],
      [msg(1, { body: 'text' as unknown as Uint8Array }), [{ endpoint: 'up', priority: 0 }]],
      [msg(1, { properties: { n: 5 as unknown as string } }), [{ endpoint: 'up', priority: 0 }]],
      [msg(1, { enqueuedAt: Number.NaN }), [{ endpoint: 'up', priority: 0 }]],
    ];
    for (const [m, d] of bad) await expect(store.append(m, d)).rejects.toMatchObject({ code: 'FERRY_E_SIM_STORE_INPUT_INVALID' });
    expect(() => store.next('up', 0)).toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_STORE_INPUT_INVALID' }));
    expect(() => store.setDefaultTimeToLive(0)).toThrow(expect.objectContaining({ code: 'FERRY_E_SIM_STORE_INPUT_INVALID' }));
    expect(store.stats()).toEqual({ messages: 0, endpoints: [] });
    // A good append in the same turn as a bad one is unaffected.
    const [good, wrong] = await Promise.allSettled([
      store.append(msg(2), [{ endpoint: 'up', priority: 0 }]),
      store.append(msg(3), [{ endpoint: 'up', priority: -1 }]),
    ]);
    expect(good.status).toBe('fulfilled');
    expect(wrong.status).toBe('rejected');
    expect(ns(store.next('up', 10))).toEqual([2]);
    expect(store.next('nobody', 10)).toEqual([]);
    expect(store.ack('nobody', [1])).toBe(0);
    store.close();
  });
});
