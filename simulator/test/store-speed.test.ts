/**
 * Figures for issue 3 §3/§9, printed rather than asserted as times (two shared cores): group-commit
 * append throughput, replay rate after an offline endpoint returns, and the RSS cost of 100,000 queued
 * 1 KiB messages (asserted against a generous bound: the target is ≤ 200 MB).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageStore, type Message } from '../src/store/index.js';

let root: string;
beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'ferry-store-speed-')); });
afterAll(() => rmSync(root, { recursive: true, force: true }));

const KiB = randomBytes(1024);

function message(n: number): Message {
  return {
    properties: { n: String(n), sensor: 'temperature' },
    systemProperties: { messageId: `m-${n}`, connectionModuleId: 'producer', outputName: 'out', contentType: 'application/json' },
    body: KiB,
    enqueuedAt: Date.now(),
  };
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** Appends `count` messages, `concurrency` per event-loop turn (each turn is one group commit). */
async function appendAll(store: MessageStore, count: number, concurrency: number, endpoints: string[]): Promise<number> {
  const started = performance.now();
  for (let n = 0; n < count; n += concurrency) {
    const turn: Promise<number>[] = [];
    for (let k = n; k < Math.min(count, n + concurrency); k++) turn.push(store.append(message(k), endpoints.map((endpoint) => ({ endpoint, priority: 0 }))));
    await Promise.all(turn);
  }
  return count / ((performance.now() - started) / 1000);
}

describe('store throughput', () => {
  it('group commit: appends per second, by durability and producers per turn', async () => {
    for (const durability of ['normal', 'full'] as const) {
      for (const [count, concurrency] of [[2_000, 1], [20_000, 100]] as const) {
        const store = MessageStore.open(join(root, `throughput-${durability}-${concurrency}.db`), { durability });
        const rate = await appendAll(store, count, concurrency, ['$upstream', '/modules/m/inputs/in']);
        expect(store.pending('$upstream')).toBe(count);
        expect(store.stats().messages).toBe(count);
        store.close();
        process.stdout.write(`[store-speed] append, durability=${durability}, ${concurrency} per turn: ${Math.round(rate)} messages/s (1 KiB, 2 endpoints)\n`);
      }
    }
  });

  it('100,000 queued 1 KiB messages: RSS, then replay in pages once the endpoint returns', async () => {
    const store = MessageStore.open(join(root, 'backlog.db'));
    const before = process.memoryUsage().rss;
    const appendRate = await appendAll(store, 100_000, 1_000, ['offline']);
    const after = process.memoryUsage().rss;
    expect(store.pending('offline')).toBe(100_000);
    process.stdout.write(`[store-speed] 100,000 x 1 KiB queued for an offline endpoint at ${Math.round(appendRate)}/s: RSS ${mb(before)} MB -> ${mb(after)} MB (+${mb(after - before)} MB)\n`);
    expect(after - before).toBeLessThan(200 * 1024 * 1024);

    const started = performance.now();
    let expected = 0;
    for (let page = store.next('offline', 1_000); page.length > 0; page = store.next('offline', 1_000)) {
      for (const q of page) {
        expect(q.message.properties.n).toBe(String(expected++));
      }
      store.ack('offline', page.map((q) => q.offset));
    }
    const replayRate = 100_000 / ((performance.now() - started) / 1000);
    expect(expected).toBe(100_000);
    const stats = store.stats();
    expect(stats.messages).toBe(0);
    expect(stats.endpoints).toMatchObject([{ endpoint: 'offline', pending: 0, delivered: 100_000 }]);
    process.stdout.write(`[store-speed] replay (next 1,000 + ack per page): ${Math.round(replayRate)} messages/s; RSS now ${mb(process.memoryUsage().rss)} MB\n`);
    store.close();
  });
});
