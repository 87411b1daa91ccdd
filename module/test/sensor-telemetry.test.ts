/**
 * The sensor's telemetry (issue 4 §4): seeded readings around normal operation, spikes with ground truth,
 * and the IoT Hub message built from a reading.
 */
import { describe, expect, it } from 'vitest';
import { NORMAL_MAX_Z, SENSOR_FEATURES, SPIKE_MIN_Z } from '../src/sensor/normal-operation.js';
import { TelemetryGenerator, type SensorReading } from '../src/sensor/telemetry-generator.js';
import { telemetryMessage } from '../src/sensor/telemetry-message.js';

function fields(r: SensorReading): number[] {
  return [r.machine.temperature, r.machine.pressure, r.ambient.temperature, r.ambient.humidity];
}

function zScores(r: SensorReading): number[] {
  return fields(r).map((x, i) => (x - SENSOR_FEATURES[i]!.mean) / SENSOR_FEATURES[i]!.sd);
}

describe('TelemetryGenerator', () => {
  it('gives the same readings for the same seed, other readings for another seed', () => {
    const at = new Date('2024-01-01T00:00:00Z');
    const a = new TelemetryGenerator({ seed: 42 });
    const b = new TelemetryGenerator({ seed: 42 });
    const c = new TelemetryGenerator({ seed: 43 });
    const ra = Array.from({ length: 200 }, () => a.next(at));
    const rb = Array.from({ length: 200 }, () => b.next(at));
    const rc = Array.from({ length: 200 }, () => c.next(at));
    expect(rb).toEqual(ra);
    expect(rc).not.toEqual(ra);
    expect(ra[0]!.sequence).toBe(1);
    expect(ra[199]!.sequence).toBe(200);
    expect(ra[0]!.reading.timeCreated).toBe('2024-01-01T00:00:00.000Z');
  });

  it('keeps normal readings within 3 sd of every mean and puts spiked fields beyond 8 sd', () => {
    const g = new TelemetryGenerator({ seed: 7, anomalyRate: 0.1 });
    const kinds = { temperature: 0, pressure: 0, both: 0, normal: 0 };
    const tolerance = 0.0005 / 0.25 + 1e-9; // rounding to 3 decimals, smallest sd
    for (let i = 0; i < 20_000; i++) {
      const { reading, anomaly } = g.next();
      const z = zScores(reading);
      kinds[anomaly ?? 'normal']++;
      const spiked = [anomaly === 'temperature' || anomaly === 'both', anomaly === 'pressure' || anomaly === 'both', false, false];
      z.forEach((zi, f) => {
        if (spiked[f]) expect(zi).toBeGreaterThanOrEqual(SPIKE_MIN_Z - NORMAL_MAX_Z - tolerance);
        else expect(Math.abs(zi)).toBeLessThanOrEqual(NORMAL_MAX_Z + tolerance);
      });
    }
    // About 10% spikes, split 45/45/10 between temperature, pressure and both.
    const spikes = kinds.temperature + kinds.pressure + kinds.both;
    expect(spikes / 20_000).toBeGreaterThan(0.09);
    expect(spikes / 20_000).toBeLessThan(0.11);
    expect(kinds.both / spikes).toBeGreaterThan(0.05);
    expect(kinds.both / spikes).toBeLessThan(0.15);
    expect(kinds.temperature).toBeGreaterThan(kinds.both * 2);
    expect(kinds.pressure).toBeGreaterThan(kinds.both * 2);
  });

  it('spreads normal readings around the means (not a constant)', () => {
    const g = new TelemetryGenerator({ seed: 1, anomalyRate: 0 });
    const z = Array.from({ length: 5000 }, () => zScores(g.next().reading));
    for (let f = 0; f < 4; f++) {
      const column = z.map((row) => row[f]!);
      const mean = column.reduce((s, v) => s + v, 0) / column.length;
      const sd = Math.sqrt(column.reduce((s, v) => s + (v - mean) ** 2, 0) / column.length);
      expect(Math.abs(mean)).toBeLessThan(0.2);
      expect(sd).toBeGreaterThan(0.8);
      expect(sd).toBeLessThan(1.4);
    }
  });

  it('sends no spikes at anomaly rate 0 and only spikes at 1', () => {
    const none = new TelemetryGenerator({ seed: 3, anomalyRate: 0 });
    const all = new TelemetryGenerator({ seed: 3, anomalyRate: 1 });
    for (let i = 0; i < 500; i++) {
      expect(none.next().anomaly).toBeNull();
      expect(all.next().anomaly).not.toBeNull();
    }
  });

  it('refuses an anomaly rate outside [0, 1]', () => {
    expect(() => new TelemetryGenerator({ seed: 1, anomalyRate: 1.5 })).toThrow(RangeError);
    expect(() => new TelemetryGenerator({ seed: 1, anomalyRate: Number.NaN })).toThrow(RangeError);
  });
});

describe('telemetryMessage', () => {
  it('is JSON, utf-8, with a message id and the ground truth as application properties', () => {
    const g = new TelemetryGenerator({ seed: 5, anomalyRate: 1 });
    const spike = g.next(new Date('2024-05-01T12:00:00Z'));
    const m = telemetryMessage(spike, 'm-1');
    expect(m.messageId).toBe('m-1');
    expect(m.contentType).toBe('application/json');
    expect(m.contentEncoding).toBe('utf-8');
    expect(JSON.parse(String(m.getData()))).toEqual({ ...spike.reading, timeCreated: '2024-05-01T12:00:00.000Z' });
    expect(m.properties.getValue('anomaly')).toBe('true');
    expect(m.properties.getValue('anomalyKind')).toBe(spike.anomaly);
    expect(m.properties.getValue('sequence')).toBe('1');

    const normal = telemetryMessage(new TelemetryGenerator({ seed: 5, anomalyRate: 0 }).next());
    expect(normal.properties.getValue('anomaly')).toBe('false');
    expect(normal.properties.getValue('anomalyKind')).toBeUndefined();
    expect(normal.messageId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
