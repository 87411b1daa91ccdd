/**
 * Module to module through the router, measured (issue 3 §9 targets: >= 5,000 messages/s; p99 <= 5 ms at
 * 1,000 messages/s): two real SDK clients, QoS 1, 1 KiB bodies, one route with a WHERE condition, the durable
 * store on. The figures are printed; the assertions are loose floors so the test fails only when routing breaks
 * down, not on a busy machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './broker-fixture.js';
import { Message, connectModule, startRoutedEdge } from './router-fixture.js';
import type { RoutedEdge, TestModule } from './router-fixture.js';

let r: RoutedEdge;
let a: TestModule;
let b: TestModule;
const body = Buffer.alloc(1024, 'x');

beforeAll(async () => {
  r = await startRoutedEdge(['a', 'b'], {
    aToB: { route: "FROM /messages/modules/a/outputs/out WHERE kind = 'reading' INTO BrokeredEndpoint(\"/modules/b/inputs/in\")", priority: 0 },
  });
  a = await connectModule(r, 'a', false);
  b = await connectModule(r, 'b', true);
});
afterAll(async () => {
  await a?.close().catch(() => undefined);
  await b?.close().catch(() => undefined);
  await r?.close();
});

function reading(i: number): InstanceType<typeof Message> {
  const m = new Message(body);
  m.properties.add('kind', 'reading');
  m.properties.add('i', String(i));
  m.properties.add('t', String(performance.now()));
  return m;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

describe('module-to-module speed', () => {
  it('throughput with many messages in flight, and latency at a fixed rate', async () => {
    // Throughput: 8,000 messages, 200 outstanding sends at a time.
    const n = 8000;
    const start = b.received.length;
    const t0 = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) await a.client.sendOutputEvent('out', reading(next++));
    };
    await Promise.all(Array.from({ length: 200 }, worker));
    const sentMs = performance.now() - t0;
    await until(() => b.received.length - start >= n, 30_000, 'every message at b');
    const rate = n / ((performance.now() - t0) / 1000);
    const sendRate = n / (sentMs / 1000);

    // Latency: 1,000 messages/s for 3 s, each message's own send-to-receive time.
    await new Promise((res) => setTimeout(res, 300));
    const latencies: number[] = [];
    const onInput = (_input: string, m: { properties: { getValue(k: string): unknown } }): void => {
      if (m.properties.getValue('phase') === 'latency') latencies.push(performance.now() - Number(m.properties.getValue('t')));
    };
    b.client.on('inputMessage', onInput);
    const total = 3000;
    const began = performance.now();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const due = began + i; // one per ms
      const wait = due - performance.now();
      if (wait > 1) await new Promise((res) => setTimeout(res, wait));
      else if (i % 20 === 0) await new Promise((res) => setImmediate(res));
      const m = reading(i);
      m.properties.add('phase', 'latency');
      sends.push(a.client.sendOutputEvent('out', m));
    }
    await Promise.all(sends);
    await until(() => latencies.length >= total, 20_000, 'latency messages');
    const actualRate = total / ((performance.now() - began) / 1000);
    latencies.sort((x, y) => x - y);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    process.stderr.write(
      `[router-speed] module-to-module ${rate.toFixed(0)} msg/s end to end (sender saw ${sendRate.toFixed(0)} PUBACKs/s; QoS 1, 1 KiB, 200 in flight, ${n} msgs); ` +
        `at ${actualRate.toFixed(0)} msg/s: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${latencies[latencies.length - 1]!.toFixed(1)} ms\n`,
    );
    expect(rate).toBeGreaterThan(300);
    expect(p50).toBeLessThan(250);
  });
});
