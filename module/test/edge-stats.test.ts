/**
 * ModuleStats (counters, p50/p99 over a bounded ring, the last minute's rate) and ReportedThrottle
 * (at most one routine report per interval; urgent ones prompt but coalesced), on real timers.
 */
import { describe, expect, it } from 'vitest';
import { LatencyRing, RateWindow } from '../src/edge/latency-window.js';
import { ModuleStats } from '../src/edge/module-stats.js';
import { ReportedThrottle } from '../src/edge/reported-throttle.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ModuleStats', () => {
  it('counts and gives nearest-rank percentiles of the most recent latencies only', () => {
    const stats = new ModuleStats({ latencySamples: 100 });
    expect(stats.snapshot()).toEqual({ in: 0, out: 0, errors: 0, p50Ms: null, p99Ms: null, lastMinuteRate: 0 });
    // 1000 slow samples, then 100 fast ones: the ring holds only the last 100.
    for (let i = 0; i < 1000; i++) stats.scored(500);
    for (let i = 1; i <= 100; i++) stats.scored(i);
    for (let i = 0; i < 7; i++) stats.received();
    stats.sent();
    stats.failed();
    stats.failed();
    expect(stats.snapshot()).toMatchObject({ in: 7, out: 1, errors: 2, p50Ms: 50, p99Ms: 99 });
  });

  it('LatencyRing refuses a bad capacity and handles one sample', () => {
    expect(() => new LatencyRing(0)).toThrow(RangeError);
    const r = new LatencyRing(3);
    r.add(4.5);
    expect(r.percentiles(50, 99)).toEqual([4.5, 4.5]);
  });

  it('rates over the trailing minute, forgetting older seconds', () => {
    let now = 1_000_000;
    const w = new RateWindow(60, () => now);
    for (let s = 0; s < 30; s++) {
      w.add(10);
      now += 1000;
    }
    expect(w.perSecond()).toBeCloseTo(10, 5); // 300 events over 30 s
    now += 45_000; // now 75 s after the start: seconds 16..29 are still in the window
    expect(w.perSecond()).toBeCloseTo((14 * 10) / 60, 5);
    now += 16_000; // all of them gone
    expect(w.perSecond()).toBe(0);
    w.add(120);
    expect(w.perSecond()).toBe(2);
  });
});

describe('ReportedThrottle', () => {
  it('sends routine requests at most once per interval and urgent ones promptly, coalesced', async () => {
    const sentAt: number[] = [];
    const t = new ReportedThrottle({ intervalMs: 200, promptMs: 20, send: async () => void sentAt.push(Date.now()) });
    const start = Date.now();
    t.request(true);
    t.request(true);
    t.request(false);
    await sleep(60);
    expect(sentAt).toHaveLength(1); // three requests, one report
    expect(sentAt[0]! - start).toBeLessThan(60);
    // A storm of routine requests for 500 ms: one report per 200 ms.
    const end = Date.now() + 500;
    while (Date.now() < end) {
      t.request(false);
      await sleep(5);
    }
    await sleep(250);
    const routine = sentAt.slice(1);
    expect(routine.length).toBeGreaterThanOrEqual(2);
    expect(routine.length).toBeLessThanOrEqual(3);
    for (let i = 1; i < sentAt.length; i++) expect(sentAt[i]! - sentAt[i - 1]!).toBeGreaterThanOrEqual(195);
    // An urgent request right after a routine report still goes out within promptMs.
    const before = sentAt.length;
    const asked = Date.now();
    t.request(true);
    await sleep(80);
    expect(sentAt).toHaveLength(before + 1);
    expect(sentAt.at(-1)! - asked).toBeLessThan(80);
    await t.close();
    t.request(true);
    await sleep(40);
    expect(sentAt).toHaveLength(before + 1);
  });

  it('retries a failed send at the next routine slot', async () => {
    let calls = 0;
    const errors: unknown[] = [];
    const t = new ReportedThrottle({
      intervalMs: 50, promptMs: 0, onError: (e) => errors.push(e),
      send: async () => {
        calls++;
        if (calls === 1) throw new Error('offline');
      },
    });
    t.request(true);
    await sleep(120);
    expect(errors).toHaveLength(1);
    expect(calls).toBe(2);
    expect(t.sent).toBe(1);
    await t.close();
  });
});
