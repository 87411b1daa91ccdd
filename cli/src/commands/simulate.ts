import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Command } from 'commander';
import { parseLayeredDeployment, type FerryError } from '@ferry/deployment-manifests';
import { ControlClient, DEFAULT_SIMULATION_NAME, DEFAULT_SINGLE_MODULE_PORT, SINGLE_MODULE_ID, Simulation, SingleModuleSimulation, monitorEvent, readSolutionFile, type ModuleCredentials, type MonitorEvent, type SimulationModuleStatus, type SimulationStatus } from '@ferry/simulator';
import type { ModuleStatus } from '@ferry/simulator';
import { DEFAULT_DASHBOARD_PORT } from '@ferry/simulator';
import { IotHubUpstream, ManifestWatcher, type ManifestReloadResult } from '@ferry/simulator';
import { action, type CommandContext } from '../context.js';
import { cliError } from '../errors.js';
import { table } from '../output.js';
import { integerOption } from './serve.js';

const NAME_HELP = `the simulation's name (default ${DEFAULT_SIMULATION_NAME})`;

/** `ferry simulate` (issue 3 §6) and the commands that talk to a running simulation's control socket. */
export function registerSimulateCommands(program: Command): void {
  const simulate = program.command('simulate')
    .description('run a deployment offline: edgeHub emulation (MQTT over TLS, routes, store-and-forward, twins, methods, a local IoT Hub) and its modules; runs until SIGINT/SIGTERM/SIGHUP (a second one stops at once, killing the module processes)')
    .option('-d, --deployment <deployment.json>', 'the deployment manifest to run')
    .option('--name <name>', NAME_HELP, DEFAULT_SIMULATION_NAME)
    .option('--solution <file>', 'JSON {"modules": {"<module>": {"command": [...], "cwd": "..."}}}: modules to run as local processes (the others are containers)')
    .option('--mqtt-port <port>', 'MQTT over TLS port (0 picks a free one)', '8883')
    .option('--https-port <port>', 'HTTPS / MQTT over WebSockets port, where module-to-module methods go (0 picks a free one)', '443')
    .option('-i, --inputs <list>', `single-module mode, as iotedgehubdev start -i: the module "${SINGLE_MODULE_ID}" with these inputs (comma-separated), started by hand with \`ferry simulate modulecred -m ${SINGLE_MODULE_ID}\`; POST {"inputName", "data"} to http://localhost:<port>/api/v1/messages; prints what the module sends`)
    .option('--port <port>', `single-module mode: the messages API port (0 picks a free one; default ${DEFAULT_SINGLE_MODULE_PORT})`)
    .option('--dashboard-port <port>', `the dashboard page's port on 127.0.0.1 (0 picks a free one; default ${DEFAULT_DASHBOARD_PORT}, or a free one when that is taken)`)
    .option('--no-dashboard', 'serve no dashboard page')
    .option('--layer <layer.json>', 'a layered deployment merged onto -d, as IoT Hub does (repeatable; later layers win)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--no-watch', 'do not reload routes and twins when the -d or --layer files change')
    .option('--iothub <connection string>', "send $upstream to a real IoT Hub as this device (HostName=...;DeviceId=...;SharedAccessKey=...) instead of the simulator's local hub")
    .option('--iothub-ca <ca.pem>', 'a CA certificate file to trust for --iothub (a private hub or gateway)')
    .action(action(async (ctx, opts: { deployment?: string; name: string; solution?: string; mqttPort: string; httpsPort: string; inputs?: string; port?: string; dashboard: boolean; dashboardPort?: string; layer: string[]; watch: boolean; iothub?: string; iothubCa?: string }) => {
      if (opts.inputs !== undefined) {
        if (opts.deployment !== undefined || opts.solution !== undefined) throw cliError('FERRY_E_USAGE', 'simulate takes either -d <deployment.json> or -i <inputs> (single-module mode), not both');
        await runSingleModule(ctx, { ...opts, inputs: opts.inputs });
        return;
      }
      if (opts.port !== undefined) throw cliError('FERRY_E_USAGE', '--port is the messages API port of single-module mode: give -i <inputs> with it');
      if (opts.deployment === undefined) throw cliError('FERRY_E_USAGE', 'simulate needs -d <deployment.json> or -i <inputs> (or a subcommand: simulate modulecred)');
      const deployment = opts.deployment;
      const sources = [deployment, ...opts.layer].map((file) => ({ file, text: readText(file) }));
      const manifest = parseLayeredDeployment(sources[0]!, sources.slice(1));
      const solution = opts.solution === undefined ? undefined : readSolutionFile(opts.solution);
      const upstream = opts.iothub === undefined ? undefined : IotHubUpstream.create({ connectionString: opts.iothub, ...(opts.iothubCa === undefined ? {} : { caFile: opts.iothubCa }) });
      const sim = await Simulation.start({
        workspace: ctx.workspace,
        name: opts.name,
        manifest,
        ...(solution ? { solution } : {}),
        mqttPort: integerOption(opts.mqttPort, '--mqtt-port', 0, 65535),
        httpsPort: integerOption(opts.httpsPort, '--https-port', 0, 65535),
        ...dashboardOption(opts),
        ...(upstream ? { upstream } : {}),
      }).catch(async (e: unknown) => {
        await upstream?.close();
        throw e;
      });
      const event = (data: Record<string, unknown>, human: string): void => {
        process.stdout.write(ctx.out.json ? `${JSON.stringify(data)}\n` : `${human}\n`);
      };
      const s = sim.status();
      event({ event: 'listening', ...listening(s) }, [
        `simulation "${s.name}" (device ${s.deviceId}, hub ${s.hubHostName})`,
        `  MQTT over TLS  127.0.0.1:${s.mqttPort} (GatewayHostName ${s.gatewayHostName})`,
        `  HTTPS / wss    ${s.httpsPort === null ? 'off' : `127.0.0.1:${s.httpsPort}`}`,
        `  CA certificate ${s.caCertificateFile}`,
        `  control socket ${s.controlSocket}`,
        `  dashboard      ${s.dashboardUrl ?? 'off'}`,
        ...(upstream ? [`  upstream       IoT Hub ${upstream.hostName} as device ${upstream.deviceId}`] : []),
      ].join('\n'));
      const watcher = opts.watch ? ManifestWatcher.watch(sim, { deployment, layers: opts.layer, appliedTexts: sources.map((x) => x.text) }) : undefined;
      watcher?.on('reloaded', (r: ManifestReloadResult) => event({ event: 'reloaded', ...r }, reloadLine(r)));
      watcher?.on('invalid', (e: FerryError) => event({ event: 'invalid-manifest', error: e.toJSON() }, `${e.code}: ${e.message} (still running the previous manifest)`));
      const onState = (m: ModuleStatus): void => event({ event: 'module', ...m }, moduleLine(m));
      for (const m of s.modules) onState(m);
      sim.launcher.on('state', onState);
      const signals = untilSignal((again) => event({ event: 'forced', signal: again }, `${again} again: not waiting for the modules to stop; their processes are killed`));
      const signal = await signals.received;
      event({ event: 'stopping', signal }, `${signal}: stopping the modules and the simulation`);
      try {
        watcher?.close();
        await sim.stop();
        await upstream?.close();
      } finally {
        signals.stopped();
      }
      sim.launcher.off('state', onState);
      event({ event: 'stopped' }, 'stopped');
    }));

  simulate.command('modulecred')
    .description(`print a module's EdgeHubConnectionString and EdgeModuleCACertificateFile (for a module started by hand or in a debugger; --name: ${NAME_HELP})`)
    .requiredOption('-m, --module <module>', 'the module id')
    .action(action(async (ctx, opts: { module: string }) => {
      // --name belongs to `simulate`: commander hands it to the parent wherever it is written.
      const name = simulate.opts<{ name?: string }>().name ?? DEFAULT_SIMULATION_NAME;
      const cred = await client(ctx, name).request<ModuleCredentials>('GET', `/modulecred/${encodeURIComponent(opts.module)}`);
      ctx.out.result(cred, () => `EdgeHubConnectionString=${cred.EdgeHubConnectionString}\nEdgeModuleCACertificateFile=${cred.EdgeModuleCACertificateFile}`);
    }));

  program.command('status')
    .description("show a running simulation's modules (state, connected, restarts, exit code), routes with message counts, and the store-and-forward backlog per endpoint")
    .option('--name <name>', NAME_HELP, DEFAULT_SIMULATION_NAME)
    .action(action(async (ctx, opts: { name: string }) => {
      const s = await client(ctx, opts.name).request<SimulationStatus>('GET', '/status');
      ctx.out.result(s, () => formatStatus(s));
    }));

  program.command('logs <module>')
    .description("print a simulated module's output; with -f, keep printing new lines until interrupted")
    .option('-f, --follow', 'follow the output')
    .option('--name <name>', NAME_HELP, DEFAULT_SIMULATION_NAME)
    .action(action(async (ctx, moduleId: string, opts: { follow?: boolean; name: string }) => {
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once('SIGINT', stop).once('SIGTERM', stop);
      try {
        await client(ctx, opts.name).stream(`/logs/${encodeURIComponent(moduleId)}${opts.follow ? '?follow=1' : ''}`, (item) => {
          const line = item as { text: string };
          process.stdout.write(ctx.out.json ? `${JSON.stringify(item)}\n` : `${line.text}\n`);
        }, abort.signal);
      } finally {
        process.off('SIGINT', stop).off('SIGTERM', stop);
      }
    }));

  const twin = program.command('twin').description("read and change a simulated module's twin");
  twin.command('get <module>')
    .description("print the module twin's desired and reported properties")
    .option('--name <name>', NAME_HELP, DEFAULT_SIMULATION_NAME)
    .action(action(async (ctx, moduleId: string, opts: { name: string }) => {
      const t = await client(ctx, opts.name).request('GET', `/twins/${encodeURIComponent(moduleId)}`);
      ctx.out.result(t, () => JSON.stringify(t, null, 2));
    }));
  twin.command('set <module> <patch>')
    .description('apply a JSON merge patch to the desired properties (null deletes); the module gets it when connected; prints the twin')
    .option('--name <name>', NAME_HELP, DEFAULT_SIMULATION_NAME)
    .action(action(async (ctx, moduleId: string, patchText: string, opts: { name: string }) => {
      const patch = parseJsonArgument(patchText, '<patch>');
      const t = await client(ctx, opts.name).request('PATCH', `/twins/${encodeURIComponent(moduleId)}`, patch);
      ctx.out.result(t, () => JSON.stringify(t, null, 2));
    }));

  program.command('invoke <module> <method>')
    .description("call a simulated module's direct method; prints {status, payload}")
    .option('--payload <json>', 'the method payload (JSON)')
    .option('--timeout <secs>', 'response timeout in seconds (1-300)', '30')
    .option('--connect-timeout <secs>', 'how long to wait for the module to connect (0-300)', '0')
    .option('--name <name>', NAME_HELP, DEFAULT_SIMULATION_NAME)
    .action(action(async (ctx, moduleId: string, method: string, opts: { payload?: string; timeout: string; connectTimeout: string; name: string }) => {
      const payload = opts.payload === undefined ? null : parseJsonArgument(opts.payload, '--payload');
      const body = { payload, timeoutSecs: integerOption(opts.timeout, '--timeout', 1, 300), connectTimeoutSecs: integerOption(opts.connectTimeout, '--connect-timeout', 0, 300) };
      const result = await client(ctx, opts.name).request('POST', `/methods/${encodeURIComponent(moduleId)}/${encodeURIComponent(method)}`, body);
      ctx.out.result(result, () => JSON.stringify(result, null, 2));
    }));

  program.command('monitor')
    .description("stream the device-to-cloud messages a simulation's local IoT Hub receives ($upstream), like `az iot hub monitor-events`; until interrupted")
    .option('--module <module>', 'only messages from this module')
    .option('--properties', 'show application and system properties')
    .option('--count <n>', 'stop after n messages')
    .option('--timeout <secs>', 'stop after this many seconds')
    .option('--name <name>', NAME_HELP, DEFAULT_SIMULATION_NAME)
    .action(action(async (ctx, opts: { module?: string; properties?: boolean; count?: string; timeout?: string; name: string }) => {
      const count = opts.count === undefined ? Infinity : integerOption(opts.count, '--count', 1, 2 ** 31);
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once('SIGINT', stop).once('SIGTERM', stop);
      const timer = opts.timeout === undefined ? undefined : setTimeout(stop, integerOption(opts.timeout, '--timeout', 1, 2 ** 31 / 1000) * 1000);
      let seen = 0;
      try {
        const query = opts.module === undefined ? '' : `?module=${encodeURIComponent(opts.module)}`;
        const monitor = client(ctx, opts.name);
        ctx.out.info(`monitoring simulation "${opts.name}"${opts.module ? ` (module ${opts.module})` : ''}; Ctrl-C to stop`);
        await monitor.stream(`/monitor${query}`, (item) => {
          if (seen >= count) return;
          seen++;
          const doc = monitorDocument(item as MonitorEvent, Boolean(opts.properties));
          process.stdout.write(ctx.out.json ? `${JSON.stringify(doc)}\n` : `${JSON.stringify(doc, null, 2)}\n`);
          if (seen >= count) abort.abort();
        }, abort.signal);
      } finally {
        if (timer) clearTimeout(timer);
        process.off('SIGINT', stop).off('SIGTERM', stop);
      }
    }));
}

/** `ferry simulate -i`: iotedgehubdev's single-module mode (issue 3 §6); prints each message the module sends. */
async function runSingleModule(ctx: CommandContext, opts: { name: string; mqttPort: string; httpsPort: string; inputs: string; port?: string; dashboard: boolean; dashboardPort?: string }): Promise<void> {
  const inputs = opts.inputs.split(',').map((i) => i.trim()).filter((i) => i !== '');
  if (inputs.length === 0) throw cliError('FERRY_E_USAGE', '-i needs at least one input name, e.g. -i input1,input2');
  const single = await SingleModuleSimulation.start({
    workspace: ctx.workspace,
    name: opts.name,
    inputs,
    port: opts.port === undefined ? DEFAULT_SINGLE_MODULE_PORT : integerOption(opts.port, '--port', 0, 65535),
    mqttPort: integerOption(opts.mqttPort, '--mqtt-port', 0, 65535),
    httpsPort: integerOption(opts.httpsPort, '--https-port', 0, 65535),
    ...dashboardOption(opts),
  });
  const event = (data: Record<string, unknown>, human: string): void => {
    process.stdout.write(ctx.out.json ? `${JSON.stringify(data)}\n` : `${human}\n`);
  };
  const s = single.simulation.status();
  const cred = single.moduleCredentials();
  event({ event: 'listening', ...listening(s), inputs: single.inputs, messagesUrl: single.url, ...cred }, [
    `single-module simulation "${s.name}": module ${single.moduleId}, inputs ${single.inputs.join(', ')}`,
    `  MQTT over TLS  127.0.0.1:${s.mqttPort} (GatewayHostName ${s.gatewayHostName})`,
    `  dashboard      ${s.dashboardUrl ?? 'off'}`,
    `  messages API   POST ${single.url}  {"inputName": "${single.inputs[0] ?? 'input1'}", "data": "hello world"}`,
    '  start the module with:',
    `EdgeHubConnectionString=${cred.EdgeHubConnectionString}`,
    `EdgeModuleCACertificateFile=${cred.EdgeModuleCACertificateFile}`,
  ].join('\n'));
  const off = single.onOutput((m) => {
    const e = monitorEvent(m);
    const output = m.systemProperties['outputName'] ?? '';
    event({ event: 'output', output, ...e }, `${m.moduleId ?? ''}/${output}: ${e.bodyBase64 === undefined ? e.body : `base64:${e.bodyBase64}`}`);
  });
  const signals = untilSignal((again) => event({ event: 'forced', signal: again }, `${again} again: not waiting for the simulation to stop`));
  const signal = await signals.received;
  off();
  event({ event: 'stopping', signal }, `${signal}: stopping the simulation`);
  try {
    await single.stop();
  } finally {
    signals.stopped();
  }
  event({ event: 'stopped' }, 'stopped');
}

/** `--no-dashboard`: none; `--dashboard-port`: that port; neither: Simulation's default. */
function dashboardOption(opts: { dashboard: boolean; dashboardPort?: string }): { dashboardPort?: number | null } {
  if (!opts.dashboard) return { dashboardPort: null };
  return opts.dashboardPort === undefined ? {} : { dashboardPort: integerOption(opts.dashboardPort, '--dashboard-port', 0, 65535) };
}

function client(ctx: CommandContext, name: string): ControlClient {
  return ControlClient.forSimulation(ctx.workspace, name);
}

/** az iot hub monitor-events' shape: {event: {origin, module, payload[, properties]}}. */
function monitorDocument(e: MonitorEvent, withProperties: boolean): { event: Record<string, unknown> } {
  const contentType = e.systemProperties['contentType'] ?? '';
  let payload: unknown = e.bodyBase64 ?? e.body;
  if (e.bodyBase64 === undefined) {
    try {
      payload = JSON.parse(e.body);
    } catch {
      payload = e.body;
    }
  }
  return {
    event: {
      origin: e.deviceId,
      module: e.moduleId ?? null,
      ...(contentType ? { contentType } : {}),
      payload,
      ...(withProperties ? { properties: { application: e.properties, system: { ...e.systemProperties, enqueuedTime: e.enqueuedAt, sequenceNumber: e.sequenceNumber } } } : {}),
    },
  };
}

function listening(s: SimulationStatus): Record<string, unknown> {
  const { modules: _m, routes: _r, endpoints: _e, ...rest } = s;
  return rest;
}

function reloadLine(r: ManifestReloadResult): string {
  const parts = [`routes ${r.routes.join(', ') || '(none)'}`, r.added.length ? `added ${r.added.join(', ')} (started)` : '', r.removed.length ? `removed ${r.removed.join(', ')} (stopped)` : '', r.changed.length ? `changed ${r.changed.join(', ')} (restarted)` : ''];
  return `manifest reloaded: ${parts.filter(Boolean).join('; ')}`;
}

function moduleLine(m: ModuleStatus): string {
  const extra = [m.pid !== null && m.state === 'running' ? `pid ${m.pid}` : '', m.exitCode !== null ? `exit ${m.exitCode}` : '', m.restarts > 0 ? `restarts ${m.restarts}` : '', m.error ? m.error.code : ''].filter(Boolean);
  return `module ${m.id} (${m.kind}): ${m.state}${extra.length ? ` [${extra.join(', ')}]` : ''}`;
}

function formatStatus(s: SimulationStatus): string {
  const modules = table(['MODULE', 'KIND', 'STATE', 'CONNECTED', 'RESTARTS', 'EXIT', 'PID', 'ERROR'], s.modules.map((m: SimulationModuleStatus) => [
    m.id, m.kind, m.state, m.connected ? 'yes' : 'no', m.restarts, m.exitCode ?? '', m.pid ?? '', m.error?.code ?? '',
  ]));
  const routes = table(['ROUTE', 'ENDPOINT', 'PRIORITY', 'MATCHED', 'PER SEC'], s.routes.map((r) => [r.name, r.endpoint, r.priority, r.matched, r.perSecond.toFixed(1)]));
  const endpoints = table(['ENDPOINT', 'BACKLOG', 'DELIVERED', 'EXPIRED', 'ONLINE'], s.endpoints.map((e) => [e.endpoint, e.pending, e.delivered, e.expired, e.online ? 'yes' : 'no']));
  return [
    `simulation "${s.name}" (pid ${s.pid}) MQTT 127.0.0.1:${s.mqttPort}, HTTPS ${s.httpsPort ?? 'off'}; ${s.accepted} messages accepted, ${s.unrouted} unrouted, ${s.upstreamReceived} upstream`,
    '', modules, routes, endpoints,
  ].join('\n');
}

/**
 * `received` resolves at the first SIGINT, SIGTERM or SIGHUP (the terminal closed). A second one before `stopped()` (the stop waits up to
 * the grace period for each module) exits at once with status 128 + the signal number, after `onForce`: the
 * modules' process groups are then SIGKILLed on exit (simulator's module-process.ts). Without a listener the
 * second signal's default action would end this process with no 'exit' event, leaving them running.
 */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function untilSignal(onForce: (signal: NodeJS.Signals) => void): { received: Promise<NodeJS.Signals>; stopped: () => void } {
  const force = (signal: NodeJS.Signals): void => {
    onForce(signal);
    process.exit(128 + (constants.signals[signal] ?? 0));
  };
  const received = new Promise<NodeJS.Signals>((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      for (const s of STOP_SIGNALS) process.off(s, on).on(s, force);
      resolve(signal);
    };
    for (const s of STOP_SIGNALS) process.on(s, on);
  });
  return { received, stopped: () => { for (const s of STOP_SIGNALS) process.off(s, force); } };
}

function parseJsonArgument(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw cliError('FERRY_E_USAGE', `${what} must be JSON, not ${JSON.stringify(text)}`);
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw cliError('FERRY_E_INPUT_UNREADABLE', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}
