/** Shared set-up of the router tests: the broker with the router as its accept hook, a store, the local hub, SDK modules. */
import { join } from 'node:path';
import device from 'azure-iot-device';
import type { ModuleClient as ModuleClientType, Message as MessageType } from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { deploymentDocument, parseDeploymentManifest } from '@ferry/deployment-manifests';
import type { DeploymentManifest } from '@ferry/deployment-manifests';
import { MessageStore } from '../src/store/message-store.js';
import { Router } from '../src/router/router.js';
import { LocalIotHub } from '../src/upstream/local-iot-hub.js';
import { startEdge } from './broker-fixture.js';
import type { Edge } from './broker-fixture.js';

const { ModuleClient, Message } = device;
const { Mqtt } = deviceMqtt;
export { Message };
export type { MessageType };

export interface RoutedEdge {
  edge: Edge;
  store: MessageStore;
  hub: LocalIotHub;
  router: Router;
  /** Moves the clock of the router and the store forward. */
  advance(ms: number): void;
  close(): Promise<void>;
}

/** A manifest with these modules (all `running`) and routes ($edgeHub schema 1.1). */
export function manifest(modules: readonly string[], routes: Record<string, string | Record<string, unknown>>, storeTtlSecs = 7200): DeploymentManifest {
  return parseDeploymentManifest(deploymentDocument({
    modules: Object.fromEntries(modules.map((m) => [m, {}])),
    routes,
    timeToLiveSecs: storeTtlSecs,
  }));
}

export async function startRoutedEdge(modules: readonly string[], routes: Record<string, string | Record<string, unknown>>, options: { window?: number } = {}): Promise<RoutedEdge> {
  let offset = 0;
  const now = (): number => Date.now() + offset;
  // The broker takes its accept hook when it starts; the router, made next, is what it calls.
  const holder: { router?: Router } = {};
  const edge = await startEdge([...modules], { accept: (m) => (holder.router as Router).accept(m) });
  const store = MessageStore.open(join(edge.dir, 'messages.db'), { now });
  const hub = new LocalIotHub({ now });
  const router = Router.start({ broker: edge.broker, store, manifest: manifest(modules, routes), hub, now, retryMs: 100, ...(options.window ? { window: options.window } : {}) });
  holder.router = router;
  return {
    edge,
    store,
    hub,
    router,
    advance: (ms) => {
      offset += ms;
    },
    async close() {
      router.close();
      await edge.close().catch(() => undefined);
      store.close();
    },
  };
}

export interface Received {
  input: string;
  body: string;
  message: MessageType;
}

export interface TestModule {
  client: ModuleClientType;
  received: Received[];
  close(): Promise<void>;
}

/** A module connected through the real SDK; with `listen`, it subscribes to its inputs (resolves once subscribed). */
export async function connectModule(r: RoutedEdge, moduleId: string, listen: boolean): Promise<TestModule> {
  const client = ModuleClient.fromConnectionString(r.edge.connectionString(moduleId), Mqtt);
  await client.setOptions({ ca: r.edge.certs.caCertPem });
  await client.open();
  const received: Received[] = [];
  if (listen) {
    const clientId = `${r.edge.store.deviceId}/${moduleId}`;
    const subscribed = new Promise<void>((resolve) => {
      const on = (s: { clientId: string; topics: string[] }): void => {
        if (s.clientId === clientId && s.topics.some((t) => t.includes('/inputs/'))) {
          r.edge.broker.off('subscribed', on);
          resolve();
        }
      };
      r.edge.broker.on('subscribed', on);
    });
    client.on('inputMessage', (input: string, message: MessageType) => {
      received.push({ input, body: message.getData().toString(), message });
    });
    // A session with clean=false keeps its subscription: a reconnecting module does not subscribe again.
    await Promise.race([subscribed, new Promise((resolve) => setTimeout(resolve, 2000))]);
  }
  return {
    client,
    received,
    close: async () => {
      await client.close();
    },
  };
}
