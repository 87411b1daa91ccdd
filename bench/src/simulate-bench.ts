/**
 * Module-to-module messaging through `ferry simulate` against mosquitto relaying the same pattern
 * (issue 3 §9): a sender publishing 1 KiB messages with QoS 1 (64 unacknowledged at most) and a
 * receiver subscribed with QoS 1, all separate processes (sim-relays.ts). Rounds alternate
 * (simulator, mosquitto, simulator, mosquitto...) and the medians are compared.
 *
 * Per round: a sustained burst (throughput = messages / first send to last reception), then 1,000
 * messages a second on a fixed schedule (latency = reception time minus the send time stamped in the
 * body; both processes read the same clock). Once, on the simulator: the receiver goes offline, 100,000
 * messages queue for it (the simulator's VmRSS read before and after), then it comes back and the replay
 * is timed from its first to its last message.
 *
 * Targets: throughput simulator/mosquitto ≥ 0.5; simulator ≥ 5,000 msg/s; p99 ≤ 5 ms at 1,000 msg/s;
 * replay ≥ 10,000 msg/s; 100,000 queued messages ≤ 200 MB of RSS.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, percentile } from './stats.js';
import type { BenchContext, BenchReport, Figure, Target } from './report.js';
import type { ReceiverReport, SendReport } from './sim-control.js';
import { MOSQUITTO, ROUTE, startMosquitto, startSimulator, type Relay } from './sim-relays.js';

const SIZE = 1024;
const WINDOW = 64;
const PACED_RATE = 1000;
const QUEUED = 100_000;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

async function received(relay: Relay, expect: number, withLatencies = false): Promise<ReceiverReport> {
  const r = await relay.receiver.command<ReceiverReport>('report', { expect, timeoutMs: 120_000, withLatencies });
  if (r.count < expect) throw new Error(`${relay.name}: the receiver got ${r.count} of ${expect} messages`);
  if (r.count > expect) throw new Error(`${relay.name}: the receiver got ${r.count} messages, ${expect} sent (duplicates)`);
  return r;
}

interface RoundResult {
  throughput: number;
  p50: number;
  p99: number;
  max: number;
}

async function round(relay: Relay, seconds: number, pacedSeconds: number): Promise<RoundResult> {
  // Warm-up: connections, JIT, the store's first pages.
  await relay.receiver.command('reset');
  const warm = await relay.sender.command<SendReport>('burst', { count: 3000, window: WINDOW, size: SIZE });
  await received(relay, warm.sent);

  await relay.receiver.command('reset');
  const burst = await relay.sender.command<SendReport>('burst', { seconds, window: WINDOW, size: SIZE });
  const got = await received(relay, burst.sent);
  const throughput = got.count / ((got.lastAt - burst.startAt) / 1000);

  await relay.receiver.command('reset');
  const paced = await relay.sender.command<SendReport>('paced', { rate: PACED_RATE, seconds: pacedSeconds, size: SIZE });
  const lat = (await received(relay, paced.sent, true)).latencies ?? [];
  return { throughput, p50: percentile(lat, 50), p99: percentile(lat, 99), max: Math.max(...lat) };
}

interface QueueResult {
  rssBefore: number;
  rssAfter: number;
  queueRate: number;
  replay: number;
}

/** The receiver offline while QUEUED messages are stored for it, then back: memory and replay rate. */
async function queueAndReplay(relay: Relay): Promise<QueueResult> {
  await relay.receiver.command('close');
  const rssBefore = rssMb(relay.pid);
  const sent = await relay.sender.command<SendReport>('burst', { count: QUEUED, window: WINDOW, size: SIZE });
  const rssAfter = rssMb(relay.pid);
  await relay.receiver.command('reset');
  await relay.receiver.command('open');
  const got = await received(relay, QUEUED);
  return {
    rssBefore,
    rssAfter,
    queueRate: sent.sent / ((sent.endAt - sent.startAt) / 1000),
    replay: (got.count - 1) / ((got.lastAt - got.firstAt) / 1000),
  };
}

export async function simulateBench(ctx: BenchContext): Promise<BenchReport> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is missing: apt-get install mosquitto`);
  const rounds = ctx.quick ? 1 : 2;
  const seconds = ctx.quick ? 5 : 20;
  const pacedSeconds = ctx.quick ? 3 : 10;
  const sim: RoundResult[] = [];
  const mosq: RoundResult[] = [];
  let queue: QueueResult | undefined;
  for (let i = 0; i < rounds; i++) {
    const s = await startSimulator(join(ctx.tmpDir, `sim-${i}`), ctx.log);
    try {
      const r = await round(s, seconds, pacedSeconds);
      sim.push(r);
      ctx.log(`simulator round ${i + 1}: ${r.throughput.toFixed(0)} msg/s; at ${PACED_RATE}/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms max ${r.max.toFixed(1)} ms`);
      if (i === rounds - 1) {
        queue = await queueAndReplay(s);
        ctx.log(`simulator: ${QUEUED} queued at ${queue.queueRate.toFixed(0)} msg/s, RSS ${queue.rssBefore.toFixed(0)} -> ${queue.rssAfter.toFixed(0)} MB; replay ${queue.replay.toFixed(0)} msg/s`);
      }
    } finally {
      await s.stop();
    }
    const m = await startMosquitto(join(ctx.tmpDir, `mosquitto-${i}`), WINDOW);
    try {
      const r = await round(m, seconds, pacedSeconds);
      mosq.push(r);
      ctx.log(`mosquitto round ${i + 1}: ${r.throughput.toFixed(0)} msg/s; at ${PACED_RATE}/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms max ${r.max.toFixed(1)} ms`);
    } finally {
      await m.stop();
    }
  }
  const q = queue as QueueResult;
  const simThroughput = median(sim.map((r) => r.throughput));
  const mosqThroughput = median(mosq.map((r) => r.throughput));
  const figures: Figure[] = [
    { label: 'ferry simulate throughput (median)', value: simThroughput, unit: 'msg/s' },
    { label: 'mosquitto throughput (median)', value: mosqThroughput, unit: 'msg/s' },
    { label: `ferry simulate p50 latency at ${PACED_RATE} msg/s (median)`, value: median(sim.map((r) => r.p50)), unit: 'ms' },
    { label: `mosquitto p50 latency at ${PACED_RATE} msg/s (median)`, value: median(mosq.map((r) => r.p50)), unit: 'ms' },
    { label: `mosquitto p99 latency at ${PACED_RATE} msg/s (median)`, value: median(mosq.map((r) => r.p99)), unit: 'ms' },
    { label: 'ferry simulate RSS before queueing', value: q.rssBefore, unit: 'MB' },
    { label: `ferry simulate RSS with ${QUEUED} messages queued`, value: q.rssAfter, unit: 'MB' },
    { label: 'ferry simulate accept rate while the receiver is offline', value: q.queueRate, unit: 'msg/s' },
  ];
  const targets: Target[] = [
    { label: 'throughput ferry simulate / mosquitto', value: simThroughput / mosqThroughput, bar: 0.5, op: '>=' },
    { label: 'ferry simulate throughput, sustained', value: simThroughput, bar: 5000, op: '>=', unit: 'msg/s' },
    { label: `ferry simulate p99 module-to-module latency at ${PACED_RATE} msg/s (median of rounds)`, value: median(sim.map((r) => r.p99)), bar: 5, op: '<=', unit: 'ms' },
    { label: 'ferry simulate replay after the endpoint returns', value: q.replay, bar: 10_000, op: '>=', unit: 'msg/s' },
    { label: `RSS cost of ${QUEUED} messages queued for an offline endpoint`, value: q.rssAfter - q.rssBefore, bar: 200, op: '<=', unit: 'MB' },
  ];
  return {
    name: 'ferry simulate module-to-module (vs mosquitto)',
    figures,
    targets,
    notes: [
      `${rounds} alternating round(s) of ${seconds} s sustained + ${pacedSeconds} s paced, medians; 1 KiB JSON bodies, QoS 1, ${WINDOW} in flight; separate sender and receiver processes`,
      `simulator: azure-iot-device ModuleClient (Mqtt, fromEnvironment) over TLS, route ${ROUTE}; mosquitto ${MOSQUITTO} over TLS (RSA 2048, as the simulator) with MQTT.js 4.3.8, no persistence`,
    ],
  };
}
