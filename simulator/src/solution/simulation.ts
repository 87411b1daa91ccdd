/**
 * `ferry simulate`: one running solution (issue 3 §6). Wires the parts in the order the SDK needs
 * them: identities and certificates, the broker (listening before any module starts: a failed first
 * connect is fatal for the SDK, PROTOCOLS.md §2), router, twins, methods, workload socket, the control
 * socket, then the modules in startupOrder.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DeploymentManifest, ModuleSpec as ManifestModule } from '@ferry/deployment-manifests';
import { EdgeBroker } from '../broker/edge-broker.js';
import { ensureGatewayCertificates, type GatewayCertificates } from '../certificates/local-ca.js';
import { DashboardServer, DEFAULT_DASHBOARD_PORT } from '../dashboard/dashboard-server.js';
import { simulatorError } from '../errors.js';
import { IdentityStore } from '../identity/identity-store.js';
import type { ExtraEnv } from '../launcher/launch-plan.js';
import type { LogLine } from '../launcher/log-buffer.js';
import { compareStartupOrder } from '../launcher/launch-plan.js';
import { ModuleLauncher, type ModuleStatus } from '../launcher/module-launcher.js';
import { ProcessRegistry } from '../launcher/process-registry.js';
import type { ModuleSpec } from '../launcher/module-spec.js';
import { MethodService, type MethodResult } from '../methods/method-service.js';
import { Router, type RouterStats } from '../router/router.js';
import { MessageStore } from '../store/message-store.js';
import { TwinService } from '../twins/twin-service.js';
import { TwinStore, type TwinProperties } from '../twins/twin-store.js';
import { LocalIotHub, type CloudMessage } from '../upstream/local-iot-hub.js';
import type { UpstreamSink } from '../upstream/upstream-sink.js';
import { WorkloadServer } from '../workload/workload-server.js';
import { ControlClient } from './control-client.js';
import { ControlServer, type ControlTarget, type ModuleCredentials } from './control-server.js';
import { simulationDir } from './simulation-paths.js';
import type { Solution } from './solution-file.js';

export const DEFAULT_HUB_HOST_NAME = 'ferry-simulator.azure-devices.net';
export const DEFAULT_DEVICE_ID = 'ferry-edge-device';

export interface SimulationOptions {
  /** The Ferry workspace; the simulation lives in `<workspace>/simulations/<name>/`. */
  readonly workspace: string;
  readonly name: string;
  readonly manifest: DeploymentManifest;
  /** Modules mapped to local commands (readSolutionFile); the others are containers. */
  readonly solution?: Solution;
  /** HostName in connection strings (default ferry-simulator.azure-devices.net). */
  readonly hubHostName?: string;
  readonly deviceId?: string;
  /**
   * GatewayHostName given to modules (default `localhost`, or `localhost:<mqttPort>` when MQTT is not on
   * 8883: the SDK takes the MQTT port from it, PROTOCOLS.md §2).
   */
  readonly gatewayHostName?: string;
  /** MQTT over TLS (default 8883; 0 picks a free port). */
  readonly mqttPort?: number;
  /** HTTPS/wss (default 443; 0 picks a free port; null: none). */
  readonly httpsPort?: number | null;
  /** Interface to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** The environment module processes inherit (default process.env). */
  readonly baseEnv?: Readonly<Record<string, string | undefined>>;
  /** How long a module gets between SIGTERM and SIGKILL (default 10 s). */
  readonly stopGraceMs?: number;
  /**
   * The dashboard page's port on 127.0.0.1 (default 53080, or a free port when 53080 is taken; 0 picks a
   * free port; null: no dashboard). An explicit port that is taken fails with FERRY_E_SIM_LISTEN_FAILED.
   */
  readonly dashboardPort?: number | null;
  /** Where `$upstream` delivers instead of the local IoT Hub (e.g. IotHubUpstream, `--iothub`); its owner closes it. */
  readonly upstream?: UpstreamSink;
}

export interface SimulationModuleStatus extends ModuleStatus {
  /** Whether the module's MQTT client is connected to the broker. */
  readonly connected: boolean;
}

export interface SimulationStatus {
  readonly name: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly hubHostName: string;
  readonly deviceId: string;
  readonly gatewayHostName: string;
  readonly mqttPort: number;
  readonly httpsPort: number | null;
  readonly controlSocket: string;
  /** The dashboard page (http://127.0.0.1:<port>/), null when it is off. */
  readonly dashboardUrl: string | null;
  readonly workloadUri: string;
  readonly caCertificateFile: string;
  readonly modules: readonly SimulationModuleStatus[];
  readonly routes: RouterStats['routes'];
  /** Store-and-forward backlog and delivery counts per endpoint. */
  readonly endpoints: RouterStats['endpoints'];
  readonly accepted: number;
  readonly unrouted: number;
  /** Messages the local IoT Hub behind $upstream has received. */
  readonly upstreamReceived: number;
}

/** What Simulation.reload changed. */
export interface ManifestReloadResult {
  /** The route names now in use. */
  readonly routes: readonly string[];
  /** Modules new in the manifest: given an identity and started (unless their status is stopped). */
  readonly added: readonly string[];
  /** Modules gone from the manifest: their processes were stopped. */
  readonly removed: readonly string[];
  /** Modules whose manifest entry changed: stopped and started again with the new entry. */
  readonly changed: readonly string[];
  /** Modules whose twin got the manifest's desired properties. */
  readonly twinsSeeded: readonly string[];
}

export class Simulation implements ControlTarget {
  readonly name: string;
  readonly dir: string;
  readonly identities: IdentityStore;
  readonly certificates: GatewayCertificates;
  readonly broker: EdgeBroker;
  readonly store: MessageStore;
  readonly hub: LocalIotHub;
  readonly router: Router;
  readonly twins: TwinService;
  readonly methods: MethodService;
  readonly workload: WorkloadServer;
  readonly launcher: ModuleLauncher;
  readonly gatewayHostName: string;
  #manifest: DeploymentManifest;
  readonly #startedAt = new Date().toISOString();
  #stopping: Promise<void> | undefined;
  #controlServer: ControlServer | undefined;
  #dashboard: DashboardServer | undefined;
  #solution: Solution | undefined;

  private constructor(parts: {
    name: string; dir: string; identities: IdentityStore; certificates: GatewayCertificates; broker: EdgeBroker; store: MessageStore; hub: LocalIotHub;
    router: Router; twins: TwinService; methods: MethodService; workload: WorkloadServer; launcher: ModuleLauncher;
    manifest: DeploymentManifest; gatewayHostName: string;
  }) {
    this.name = parts.name;
    this.dir = parts.dir;
    this.identities = parts.identities;
    this.certificates = parts.certificates;
    this.broker = parts.broker;
    this.store = parts.store;
    this.hub = parts.hub;
    this.router = parts.router;
    this.twins = parts.twins;
    this.methods = parts.methods;
    this.workload = parts.workload;
    this.launcher = parts.launcher;
    this.#manifest = parts.manifest;
    this.gatewayHostName = parts.gatewayHostName;
  }

  /**
   * Starts a simulation and its modules; resolves once every module has been launched (a module that
   * cannot start, such as a container without Docker, shows it in its status). Throws
   * FERRY_E_SIM_ALREADY_RUNNING when a simulation of that name answers on its control socket.
   */
  static async start(options: SimulationOptions): Promise<Simulation> {
    const dir = simulationDir(options.workspace, options.name);
    const control = new ControlClient(join(dir, 'control.sock'), options.name);
    const alive = await control.request('GET', '/status').then(() => true, () => false);
    if (alive) throw simulatorError('FERRY_E_SIM_ALREADY_RUNNING', `A simulation named "${options.name}" is already running (${control.socketPath}).`, { details: { name: options.name } });
    try {
      mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `Cannot create the simulation folder ${dir}`, { cause });
    }
    // A previous run killed with SIGKILL left its (detached) module process groups running: end them
    // before anything listens, so none reconnects to this run (issue 3 §3).
    const processes = ProcessRegistry.open(join(dir, 'module-processes.json'));
    await processes.endAll(options.stopGraceMs ?? 10_000);

    const cleanup: Array<() => Promise<void> | void> = [];
    const undo = async (): Promise<void> => {
      for (const step of cleanup.reverse()) await Promise.resolve(step()).catch(() => undefined);
    };
    try {
      const hostOnly = (options.gatewayHostName ?? 'localhost').replace(/:\d+$/, '');
      const certificates = ensureGatewayCertificates(join(dir, 'certs'), { gatewayHostName: hostOnly });
      const identities = IdentityStore.open(join(dir, 'identities.json'), {
        hubHostName: options.hubHostName ?? DEFAULT_HUB_HOST_NAME,
        deviceId: options.deviceId ?? DEFAULT_DEVICE_ID,
      });
      for (const m of options.manifest.modules) identities.ensureModule(m.id);

      const store = MessageStore.open(join(dir, 'messages.db'));
      cleanup.push(() => store.close());
      const hub = new LocalIotHub();
      // The broker takes its hooks when it starts; the router and methods, made next, are what they call.
      const late: { router?: Router; methods?: MethodService } = {};
      const broker = await EdgeBroker.start({
        identities,
        tls: certificates,
        host: options.host ?? '127.0.0.1',
        mqttPort: options.mqttPort ?? 8883,
        httpsPort: options.httpsPort === undefined ? 443 : options.httpsPort,
        sessionFile: join(dir, 'sessions.json'),
        accept: (m) => {
          if (!late.router) throw simulatorError('FERRY_E_SIM_CLIENT_OFFLINE', 'The router is not ready yet.');
          return late.router.accept(m);
        },
        onHttpsRequest: (req, res) => {
          if (late.methods?.handleHttpsRequest(req, res)) return;
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Not found' }));
        },
      });
      cleanup.push(() => broker.close());
      const router = Router.start({ broker, store, manifest: options.manifest, hub: options.upstream ?? hub });
      late.router = router;
      cleanup.push(() => router.close());
      const twinStore = TwinStore.open(join(dir, 'twins'));
      const twins = TwinService.attach(broker, twinStore);
      cleanup.push(() => twins.detach());
      for (const [moduleId, desired] of Object.entries(options.manifest.twins)) {
        if (identities.module(moduleId)) await twins.seed(moduleId, { ...desired });
      }
      const methods = MethodService.attach(broker, { identities });
      late.methods = methods;
      cleanup.push(() => methods.detach());
      const workload = await WorkloadServer.start({ identities, caCertPem: certificates.caCertPem, socketPath: join(dir, 'workload.sock') });
      cleanup.push(() => workload.close());

      const gatewayHostName = options.gatewayHostName ?? (broker.mqttPort === 8883 ? 'localhost' : `localhost:${broker.mqttPort}`);
      const launcher = new ModuleLauncher({
        logDir: join(dir, 'logs'),
        containers: { simulation: options.name, scope: dir },
        ...(options.baseEnv ? { baseEnv: options.baseEnv } : {}),
        ...(options.stopGraceMs !== undefined ? { stopGraceMs: options.stopGraceMs } : {}),
      });
      launcher.on('state', (s) => processes.observe(s));
      cleanup.push(async () => {
        await launcher.stop();
      });
      const sim: Simulation = new Simulation({
        name: options.name, dir, identities, certificates, broker, store, hub, router, twins, methods, workload, launcher,
        manifest: options.manifest, gatewayHostName,
      });
      const server = await ControlServer.start(sim, join(dir, 'control.sock'));
      cleanup.push(() => server.close());
      sim.#controlServer = server;
      sim.#solution = options.solution;
      if (options.dashboardPort !== null) {
        // Before the modules start, so the dashboard lists their first messages.
        const dashboard = await DashboardServer.start(sim, { port: options.dashboardPort ?? DEFAULT_DASHBOARD_PORT, fallbackToFreePort: options.dashboardPort === undefined });
        cleanup.push(() => dashboard.close());
        sim.#dashboard = dashboard;
      }

      const specs = options.manifest.modules.map((m) => launchSpec(m, options.solution));
      const env: Record<string, Record<string, string>> = {};
      for (const m of options.manifest.modules) env[m.id] = sim.#moduleEnv(m.id);
      await launcher.start(specs, env satisfies ExtraEnv);
      return sim;
    } catch (e) {
      await undo();
      throw e;
    }
  }

  get controlSocket(): string {
    return join(this.dir, 'control.sock');
  }

  /** What a module gets in its environment: both ways the SDK finds edgeHub (PROTOCOLS.md §1). */
  #moduleEnv(moduleId: string): Record<string, string> {
    const identity = this.identities.ensureModule(moduleId);
    return {
      EdgeHubConnectionString: this.identities.connectionString(moduleId, this.gatewayHostName),
      EdgeModuleCACertificateFile: this.certificates.caCertPath,
      IOTEDGE_WORKLOADURI: this.workload.uri,
      IOTEDGE_DEVICEID: this.identities.deviceId,
      IOTEDGE_MODULEID: moduleId,
      IOTEDGE_IOTHUBHOSTNAME: this.identities.hubHostName,
      IOTEDGE_GATEWAYHOSTNAME: this.gatewayHostName,
      IOTEDGE_AUTHSCHEME: 'sasToken',
      IOTEDGE_MODULEGENERATIONID: identity.generationId,
    };
  }

  status(): SimulationStatus {
    const stats = this.router.stats();
    const device = this.identities.deviceId;
    return {
      name: this.name,
      pid: process.pid,
      startedAt: this.#startedAt,
      hubHostName: this.identities.hubHostName,
      deviceId: device,
      gatewayHostName: this.gatewayHostName,
      mqttPort: this.broker.mqttPort,
      httpsPort: this.broker.httpsPort ?? null,
      controlSocket: this.controlSocket,
      dashboardUrl: this.#dashboard?.url ?? null,
      workloadUri: this.workload.uri,
      caCertificateFile: this.certificates.caCertPath,
      modules: this.launcher.status().map((s) => ({ ...s, connected: this.broker.isConnected(`${device}/${s.id}`) })),
      routes: stats.routes,
      endpoints: stats.endpoints,
      accepted: stats.accepted,
      unrouted: stats.unrouted,
      upstreamReceived: this.hub.received,
    };
  }

  logs(moduleId: string, options: { follow: boolean; signal: AbortSignal }): AsyncIterable<LogLine> {
    return this.launcher.logs(moduleId, options);
  }

  twin(moduleId: string): TwinProperties {
    this.#assertModule(moduleId);
    return this.twins.get(moduleId);
  }

  async patchTwin(moduleId: string, patch: unknown): Promise<TwinProperties> {
    this.#assertModule(moduleId);
    await this.twins.patchDesired(moduleId, patch);
    return this.twins.get(moduleId);
  }

  invoke(moduleId: string, method: string, payload: unknown, options: { timeoutSecs?: number; connectTimeoutSecs?: number } = {}): Promise<MethodResult> {
    return this.methods.invoke(moduleId, method, payload, options);
  }

  onUpstream(listener: (m: CloudMessage) => void): () => void {
    this.hub.on('message', listener);
    return () => this.hub.off('message', listener);
  }

  /** A module's connection settings (made for any valid module id, for a module started by hand). */
  moduleCredentials(moduleId: string): ModuleCredentials {
    this.identities.ensureModule(moduleId);
    return {
      moduleId,
      EdgeHubConnectionString: this.identities.connectionString(moduleId, this.gatewayHostName),
      EdgeModuleCACertificateFile: this.certificates.caCertPath,
    };
  }

  /** The manifest in use (the one started with, or the last one reloaded). */
  get manifest(): DeploymentManifest {
    return this.#manifest;
  }

  /**
   * Applies a changed manifest to the running simulation (issue 3 §2: routes reload without losing queued
   * messages). Routes and the store-and-forward time to live are swapped at once (Router.reload: queues are
   * kept by endpoint, an endpoint no route uses is still delivered until empty); every module twin the manifest
   * has gets its desired section from it (the difference reaches connected modules); an added module gets an
   * identity and is started, a changed module is restarted with its new entry (after the twins are seeded, so it
   * connects to its new desired properties), a removed module is stopped.
   * Nothing is changed when the routes do not compile (throws FERRY_E_MANIFEST_INVALID or FERRY_E_ROUTE_INVALID).
   */
  async reload(manifest: DeploymentManifest): Promise<ManifestReloadResult> {
    const before = new Map(this.#manifest.modules.map((m) => [m.id, JSON.stringify(m)]));
    const after = new Map(manifest.modules.map((m) => [m.id, JSON.stringify(m)]));
    this.router.reload(manifest);
    this.#manifest = manifest;
    const added = [...after.keys()].filter((id) => !before.has(id));
    const removed = [...before.keys()].filter((id) => !after.has(id));
    const changed = [...after.keys()].filter((id) => before.has(id) && before.get(id) !== after.get(id));
    for (const id of added) this.identities.ensureModule(id);
    const launched = new Set(this.launcher.status().map((s) => s.id));
    for (const id of removed) if (launched.has(id)) await this.launcher.stopModule(id).catch(() => undefined);
    const twinsSeeded: string[] = [];
    for (const [moduleId, desired] of Object.entries(manifest.twins)) {
      if (!this.identities.module(moduleId)) continue;
      await this.twins.seed(moduleId, { ...desired });
      twinsSeeded.push(moduleId);
    }
    const toStart = manifest.modules.filter((m) => added.includes(m.id) || changed.includes(m.id)).sort(compareStartupOrder);
    for (const m of toStart) {
      // A module that cannot start shows it in its status; the others still start.
      await this.launcher.apply(launchSpec(m, this.#solution), this.#moduleEnv(m.id)).catch(() => undefined);
    }
    return { routes: this.router.routes.map((r) => r.name), added, removed, changed, twinsSeeded };
  }

  /** Stops the modules (reverse startup order), then the control socket, workload API, services, broker and store. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.launcher.stop().catch(() => undefined);
      await this.#controlServer?.close().catch(() => undefined);
      await this.#dashboard?.close().catch(() => undefined);
      await this.workload.close().catch(() => undefined);
      this.methods.detach();
      this.twins.detach();
      this.router.close();
      await this.broker.close().catch(() => undefined);
      this.store.close();
    })();
    return this.#stopping;
  }

  #assertModule(moduleId: string): void {
    if (!this.#manifest.modules.some((m) => m.id === moduleId) && !this.identities.module(moduleId)) {
      throw simulatorError('FERRY_E_SIM_MODULE_UNKNOWN', `The simulation has no module "${moduleId}".`, { details: { moduleId } });
    }
  }
}

/** A manifest module as the launcher runs it: a process when the solution maps it, else its container. */
function launchSpec(m: ManifestModule, solution: Solution | undefined): ModuleSpec {
  const entry = solution?.get(m.id);
  return {
    id: m.id,
    ...(m.startupOrder !== undefined ? { startupOrder: m.startupOrder } : {}),
    restartPolicy: m.restartPolicy,
    status: m.status,
    env: Object.fromEntries(Object.entries(m.env).map(([k, v]) => [k, String(v)])),
    run: entry
      ? { kind: 'process', command: entry.command, cwd: entry.cwd }
      : { kind: 'container', image: m.settings.image, createOptions: m.settings.createOptions },
  };
}
