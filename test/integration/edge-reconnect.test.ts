/**
 * Issue 4 §1, §2: the scorer module when azure-iot-device gives up on its connection. The SDK reconnects by
 * itself after a drop it thinks transient (a closed socket, a refused connect: NotConnectedError) for up to its
 * 4-minute operation timeout; an error its retry filter does not know makes it give up at once: it emits
 * 'disconnect' and stays closed, and only EdgeModule's `#reconnect` (re-`open()` with backoff) brings it back.
 *
 * How the SDK is driven there: the scorer reaches the real simulator through a TCP relay owned by the test
 * (TLS stays end to end, the relay only forwards bytes). Cutting the relay resets the scorer's connection (a
 * TCP RST, what a crashed peer or a middlebox that dropped the flow sends): azure-iot-mqtt-base passes the
 * socket's ECONNRESET to the transport's 'disconnect' untranslated, as a plain `Error`, which the default retry
 * filter does not name, so the ModuleClient gives up. (A CONNACK "not authorized", e.g. from a simulator that
 * does not know the module, does not: mqtt.js sets `code` = 5 on that error and azure-iot-mqtt-base translates
 * every error with a `code` to a retried NotConnectedError.) The relay then refuses connections while the
 * simulator restarts with messages queued for the scorer, and comes back; the test asserts from the scorer's
 * JSON log that `#reconnect` ran and that every message sent meanwhile is answered, correctly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type device from 'azure-iot-device';
import { Simulation } from '@ferry/simulator';
import type { CloudMessage } from '@ferry/simulator';
import type { DeploymentManifest } from '@ferry/deployment-manifests';
import { freePort, ortRun } from '@ferry/test';
import { connectionEnv, edgeManifest, edgeModels, handModule, scorerEnv, send, spawnModule, until, type ModuleProcess } from './edge-fixture.js';

const SCORER_CLIENT = 'ferry-edge-device/scorer';
/** What EdgeModule#reconnect logs when the SDK gave up ('disconnect'), and once its `open()` worked. */
const GAVE_UP = 'disconnected from edgeHub; reconnecting';
const RECONNECTED = 'reconnected to edgeHub';
/** The rows sent: message i carries ROWS[i % ROWS.length]. */
const ROWS = [[0, 1, 2, 3], [1, 1, 2, 3], [2, -1, 0.5, 3], [3, 1, 2, -3], [4, 0, 0, 1]];

let dir: string;
let port: number;
let manifest: DeploymentManifest;
let sim: Simulation | undefined;
let relay: ResettingRelay | undefined;
let sender: device.ModuleClient | undefined;
let scorer: ModuleProcess | undefined;
/** The scores onnxruntime gives for ROWS. */
let expected: number[][];
/** correlationId -> the answers that reached $upstream, over every simulation run. */
const answers = new Map<string, CloudMessage[]>();
/** messageId -> the row it carried. */
const rowOf = new Map<string, number>();

/**
 * A TCP relay from `listenPort` to the simulator's MQTT port. `cut()` resets every relayed connection and stops
 * listening (connects are refused); `resume()` listens again on the same port.
 */
class ResettingRelay {
  readonly #pairs = new Set<readonly [Socket, Socket]>();
  #server: Server | undefined;

  constructor(readonly listenPort: number, readonly targetPort: number) {}

  async resume(): Promise<void> {
    const server = createServer((downstream) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      const pair = [downstream, upstream] as const;
      this.#pairs.add(pair);
      const end = (): void => {
        this.#pairs.delete(pair);
        downstream.destroy();
        upstream.destroy();
      };
      downstream.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      downstream.pipe(upstream);
      upstream.pipe(downstream);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => resolve());
    });
    this.#server = server;
  }

  /** Resets the relayed connections (TCP RST to the module) and refuses new ones; resolves with how many were cut. */
  async cut(): Promise<number> {
    const server = this.#server;
    this.#server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    const pairs = [...this.#pairs];
    this.#pairs.clear();
    for (const [downstream, upstream] of pairs) {
      downstream.resetAndDestroy();
      upstream.destroy();
    }
    await closed;
    return pairs.length;
  }
}


async function startSim(): Promise<Simulation> {
  const s = await Simulation.start({ workspace: join(dir, 'ws'), name: 'edge-reconnect', manifest, mqttPort: port, httpsPort: null, dashboardPort: null, stopGraceMs: 3000 });
  s.onUpstream((m: CloudMessage) => {
    const id = m.systemProperties['correlationId'];
    if (id !== undefined) answers.set(id, [...(answers.get(id) ?? []), m]);
  });
  return s;
}

function answered(ids: readonly string[]): number {
  return ids.filter((id) => (answers.get(id)?.length ?? 0) > 0).length;
}

/** Sends `ids` to the scorer's input, message i with row i % ROWS.length; resolves when edgeHub has taken them all. */
async function sendAll(ids: readonly string[]): Promise<void> {
  await Promise.all(ids.map((id, i) => {
    rowOf.set(id, i % ROWS.length);
    return send(sender as device.ModuleClient, 'toScorer', JSON.stringify({ data: [ROWS[i % ROWS.length]] }), { contentType: 'application/json', messageId: id });
  }));
}

async function sendBurst(prefix: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await sendAll(ids);
  return ids;
}

/** Every answer of every id is the model's scores for the row that id carried, on the result output. */
function expectCorrect(ids: readonly string[]): void {
  for (const id of ids) {
    const got = answers.get(id) ?? [];
    expect(got.length, id).toBeGreaterThan(0);
    const want = expected[rowOf.get(id) as number] as number[];
    for (const m of got) {
      expect(m.moduleId).toBe('scorer');
      expect(m.systemProperties['outputName'], id).toBe('amlOutput');
      const body = JSON.parse(m.body.toString('utf8')) as { scores: number[][] };
      expect(body.scores[0]).toHaveLength(want.length);
      (body.scores[0] as number[]).forEach((v, j) => expect(v).toBeCloseTo(want[j] as number, 5));
    }
  }
}

function logCount(msg: string): number {
  return (scorer as ModuleProcess).logs.filter((l) => l['msg'] === msg).length;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-edge-reconnect-'));
  const models = await edgeModels(dir);
  const run = await ortRun(models.fixtures.linear.path, { data: { type: 'float32', dims: [ROWS.length, 4], data: ROWS.flat() } });
  expected = run['scores']?.value as number[][];
  port = await freePort();
  // The sender and the scorer are started by the test, so the manifest runs neither.
  manifest = edgeManifest({}, {
    toScorer: 'FROM /messages/modules/sender/outputs/toScorer INTO BrokeredEndpoint("/modules/scorer/inputs/amlInput")',
    scorerUp: 'FROM /messages/modules/scorer/outputs/* INTO $upstream',
  }, ['sender', 'scorer']);
  sim = await startSim();
  relay = new ResettingRelay(await freePort(), port);
  await relay.resume();
  // The scorer's GatewayHostName names the relay (the SDK takes the MQTT port from it, PROTOCOLS.md §2).
  const direct = sim.moduleCredentials('scorer').EdgeHubConnectionString;
  const viaRelay = direct.replace(`;GatewayHostName=localhost:${port};`, `;GatewayHostName=localhost:${relay.listenPort};`);
  expect(viaRelay).not.toBe(direct);
  scorer = spawnModule({ ...scorerEnv('scorer.yaml', models.modelsDir, models.cacheDir), ...connectionEnv(sim, 'scorer'), EdgeHubConnectionString: viaRelay });
  sender = await handModule(sim, 'sender');
  await until(() => logCount('ready') === 1, 30_000, 'the scorer ready');
});

afterAll(async () => {
  if (scorer && scorer.child.exitCode === null && scorer.child.signalCode === null) scorer.child.kill('SIGKILL');
  await sender?.close().catch(() => undefined);
  await relay?.cut();
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the edge module comes back after the SDK gave up on edgeHub', () => {
  it('reset while idle: the SDK gives up, #reconnect reopens the client, and what was sent meanwhile (across a simulation restart) is answered', async () => {
    const s0 = sim as Simulation;
    // Idle on purpose: with no message scored yet nothing else (a result being sent, a twin report of changed
    // counters) makes the SDK connect again, so only #reconnect can bring the module back.
    await until(() => s0.broker.isConnected(SCORER_CLIENT) && Object.hasOwn(s0.twins.get('scorer').reported, 'counters'), 20_000, 'the scorer connected and its first report in');
    const gaveUp = logCount(GAVE_UP);
    const reconnected = logCount(RECONNECTED);
    expect(await (relay as ResettingRelay).cut()).toBe(1);
    await until(() => logCount(GAVE_UP) === gaveUp + 1, 15_000, 'the SDK giving up (#reconnect logging)');
    await until(() => !s0.broker.isConnected(SCORER_CLIENT), 10_000, 'the broker seeing the scorer gone');

    // Sent while the scorer is away: queued for its input in the simulator's store, kept across a restart.
    const away = await sendBurst('away', 40);
    await s0.stop();
    sim = await startSim();
    const afterRestart = await sendBurst('restart', 20);
    const queued = [...away, ...afterRestart];
    expect(answered(queued)).toBe(0);
    expect(logCount(RECONNECTED)).toBe(reconnected);

    await (relay as ResettingRelay).resume();
    await until(() => answered(queued) === queued.length, 30_000, 'every message sent while the scorer was away answered');
    expect(logCount(RECONNECTED)).toBe(reconnected + 1);
    expectCorrect(queued);

    const after = await sendBurst('after', 20);
    await until(() => answered(after) === after.length, 20_000, 'new messages answered');
    expectCorrect(after);
    expect((sim as Simulation).broker.isConnected(SCORER_CLIENT)).toBe(true);
    expect(logCount('connected to edgeHub')).toBe(1);
  });

  // Here results being sent and twin reports also make the SDK connect again once the relay is back: this case is
  // about the PUBACKs held by input-ack.ts on the connection that was reset (the broker delivers those inputs again).
  it('reset mid-stream: the SDK gives up with inputs held and results in flight; every input is answered after #reconnect (at-least-once)', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `stream-${i}`);
    const sending = sendAll(ids);
    await until(() => answered(ids) >= 30, 20_000, 'the first answers');
    const gaveUp = logCount(GAVE_UP);
    const reconnected = logCount(RECONNECTED);
    expect(await (relay as ResettingRelay).cut()).toBe(1);
    const atCut = answered(ids);
    await until(() => logCount(GAVE_UP) === gaveUp + 1, 15_000, 'the SDK giving up');
    expect(atCut).toBeLessThan(ids.length);
    await sending;
    // Away a little longer: its open() meets refused connects.
    await new Promise((r) => setTimeout(r, 1000));
    await (relay as ResettingRelay).resume();
    await until(() => answered(ids) === ids.length, 40_000, 'every input answered');
    await until(() => logCount(RECONNECTED) === reconnected + 1, 10_000, '#reconnect done');
    expectCorrect(ids);
    expect((scorer as ModuleProcess).child.exitCode).toBeNull();
  });
});
