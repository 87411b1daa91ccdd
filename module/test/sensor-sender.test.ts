/**
 * The sensor's send loop (issue 4 §4): pacing by rate, stopping at count, pausing, and backpressure. The
 * loop's only collaborator is `sendOutputEvent`; here an in-process sink records each message and
 * acknowledges it after a delay (the real SDK path is tested in test/integration/sensor-module.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type device from 'azure-iot-device';
import { TelemetryGenerator } from '../src/sensor/telemetry-generator.js';
import { TelemetrySender, type OutputSender, type SenderStats } from '../src/sensor/telemetry-sender.js';

class RecordingSink implements OutputSender {
  readonly messages: Array<{ output: string; message: device.Message; at: number }> = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(readonly ackMs = 0, readonly failEvery = 0) {}
  async sendOutputEvent(output: string, message: device.Message): Promise<unknown> {
    this.messages.push({ output, message, at: performance.now() });
    const n = this.messages.length;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, this.ackMs));
    this.inFlight--;
    if (this.failEvery > 0 && n % this.failEvery === 0) throw new Error(`refused ${n}`);
    return { type: 'MessageEnqueued' };
  }
}

const settings = { rate: 0, count: 0, enabled: true, maxInFlight: 4, output: 'temperatureOutput' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function untilDone(sender: TelemetrySender): Promise<SenderStats> {
  return new Promise((resolve) => sender.once('done', resolve));
}

describe('TelemetrySender', () => {
  it('sends count messages at about the rate, then reports done', async () => {
    const sink = new RecordingSink(1);
    const sender = new TelemetrySender(sink, new TelemetryGenerator({ seed: 1 }), { ...settings, rate: 100, count: 50 });
    const started = performance.now();
    const done = untilDone(sender);
    sender.start();
    const stats = await done;
    const elapsed = performance.now() - started;
    expect(stats).toMatchObject({ status: 'done', sent: 50, failed: 0, inFlight: 0 });
    expect(sink.messages).toHaveLength(50);
    expect(sink.messages.every((m) => m.output === 'temperatureOutput')).toBe(true);
    // 50 messages at 100/s: the 50th is due at 490 ms.
    expect(elapsed).toBeGreaterThanOrEqual(480);
    expect(elapsed).toBeLessThan(1500);
    await sleep(100);
    expect(sink.messages).toHaveLength(50);
    await sender.stop();
  });

  it('counts the spikes it sent and gives every message its own id', async () => {
    const sink = new RecordingSink();
    const sender = new TelemetrySender(sink, new TelemetryGenerator({ seed: 9, anomalyRate: 0.3 }), { ...settings, count: 300 });
    const done = untilDone(sender);
    sender.start();
    const stats = await done;
    const truth = sink.messages.filter((m) => m.message.properties.getValue('anomaly') === 'true').length;
    expect(truth).toBeGreaterThan(50);
    expect(stats.anomaliesSent).toBe(truth);
    expect(new Set(sink.messages.map((m) => m.message.messageId)).size).toBe(300);
    await sender.stop();
  });

  it('keeps at most maxInFlight sends waiting for acknowledgement', async () => {
    const sink = new RecordingSink(5);
    const sender = new TelemetrySender(sink, new TelemetryGenerator({ seed: 2 }), { ...settings, count: 60, maxInFlight: 3 });
    const done = untilDone(sender);
    sender.start();
    await done;
    expect(sink.maxInFlight).toBe(3);
    await sender.stop();
  });

  it('pauses while disabled, resumes, and goes on when the count is raised', async () => {
    const sink = new RecordingSink();
    const sender = new TelemetrySender(sink, new TelemetryGenerator({ seed: 3 }), { ...settings, rate: 200, count: 20, enabled: false });
    sender.start();
    await sleep(150);
    expect(sink.messages).toHaveLength(0);
    expect(sender.stats().status).toBe('paused');
    let done = untilDone(sender);
    sender.update({ enabled: true });
    expect((await done).sent).toBe(20);
    done = untilDone(sender);
    sender.update({ count: 30 });
    expect((await done).sent).toBe(30);
    expect(sink.messages).toHaveLength(30);
    await sender.stop();
  });

  it('changes rate while running', async () => {
    const sink = new RecordingSink();
    const sender = new TelemetrySender(sink, new TelemetryGenerator({ seed: 4 }), { ...settings, rate: 5 });
    sender.start();
    await sleep(400);
    const slow = sink.messages.length;
    expect(slow).toBeLessThanOrEqual(3);
    sender.update({ rate: 500 });
    await sleep(400);
    expect(sink.messages.length - slow).toBeGreaterThan(100);
    await sender.stop();
    expect(sender.stats().status).toBe('stopped');
  });

  it('counts failed sends and still finishes', async () => {
    const sink = new RecordingSink(0, 5);
    const sender = new TelemetrySender(sink, new TelemetryGenerator({ seed: 5 }), { ...settings, count: 25 });
    const failures: string[] = [];
    sender.on('send-failed', (_e, id) => failures.push(id));
    const done = untilDone(sender);
    sender.start();
    const stats = await done;
    expect(stats).toMatchObject({ sent: 20, failed: 5 });
    expect(failures).toEqual([5, 10, 15, 20, 25].map((n) => String(sink.messages[n - 1]!.message.messageId)));
    await sender.stop();
  });

  it('stop waits for the sends in flight', async () => {
    const sink = new RecordingSink(100);
    const sender = new TelemetrySender(sink, new TelemetryGenerator({ seed: 6 }), { ...settings, maxInFlight: 2 });
    sender.start();
    await sleep(20);
    await sender.stop();
    expect(sender.stats()).toMatchObject({ inFlight: 0, sent: 2, status: 'stopped' });
    expect(sink.messages).toHaveLength(2);
  });
});
