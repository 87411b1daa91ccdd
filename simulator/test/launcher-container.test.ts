/**
 * Container modules on a real Docker engine (issue 3 §6): a whole Simulation whose module is a container
 * of the local node image running the real azure-iot-device ModuleClient (fromEnvironment) against the
 * simulator; createOptions Env/Binds/PortBindings; status and logs; restart policy on a failing container;
 * stop removes it; leftovers of an earlier run are removed; a missing image and a missing engine are
 * reported by code. The pure parts (create request, log demux) run without an engine.
 * Needs DOCKER_HOST (or /var/run/docker.sock); skips with a reason without one, fails under CI=true.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDeploymentManifestText } from '@ferry/deployment-manifests';
import { containerLabels, containerName, planContainer, type ContainerScope } from '../src/launcher/container-config.js';
import { ContainerLogDemux } from '../src/launcher/container-log-demux.js';
import { locateDockerEngine } from '../src/launcher/container-engine.js';
import type { StartContainerStep } from '../src/launcher/launch-plan.js';
import { ModuleLauncher } from '../src/launcher/module-launcher.js';
import type { ModuleSpec } from '../src/launcher/module-spec.js';
import { Simulation } from '../src/solution/simulation.js';
import { until } from './broker-fixture.js';
import { testEngine, type TestEngine } from './docker-fixture.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/container/', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));
const found = await testEngine();
const engine: TestEngine | undefined = 'skip' in found ? undefined : found;

const roots: string[] = [];
const temp = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  roots.push(dir);
  return dir;
};
afterAll(() => { for (const r of roots) rmSync(r, { recursive: true, force: true }); });

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('container create request (pure)', () => {
  const scope: ContainerScope = { simulation: 'sim', scope: '/w/simulations/sim' };
  const step = (createOptions: Record<string, unknown>, env: Record<string, string> = {}): StartContainerStep =>
    ({ kind: 'start-container', moduleId: 'm1', image: 'img:1', createOptions, env });

  it('merges Env (createOptions < manifest and simulator env), keeps Binds, adds the CA file and workload socket, forces host networking', () => {
    const plan = planContainer(scope, step(
      { Env: ['A=create', 'B=create'], Cmd: ['x'], Labels: { mine: 'yes' }, HostConfig: { Binds: ['/data:/data'], Privileged: true, NetworkMode: 'bridge', RestartPolicy: { Name: 'always' } } },
      { B: 'manifest', EdgeModuleCACertificateFile: '/s/certs/ca.pem', IOTEDGE_WORKLOADURI: 'unix:///s/workload.sock' },
    ));
    expect(plan.name).toBe(containerName(scope, 'm1'));
    expect(plan.create.Env).toEqual(['A=create', 'B=manifest', 'EdgeModuleCACertificateFile=/s/certs/ca.pem', 'IOTEDGE_WORKLOADURI=unix:///s/workload.sock']);
    expect(plan.create.HostConfig).toMatchObject({
      Binds: ['/data:/data', '/s/certs/ca.pem:/s/certs/ca.pem:ro', '/s/workload.sock:/s/workload.sock'],
      NetworkMode: 'host', Privileged: true, RestartPolicy: { Name: 'no' },
    });
    expect(plan.create.Labels).toEqual({ mine: 'yes', ...containerLabels(scope, 'm1') });
    expect(plan.create.Cmd).toEqual(['x']);
    expect(plan.warnings.map((w) => w.code)).toEqual(['FERRY_E_SIM_CONTAINER_OPTION_IGNORED']);
  });

  it('warns only for PortBindings that host networking cannot honour; rejects malformed options by code', () => {
    const plan = planContainer(scope, step({ HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '8080' }], '443/tcp': [{ HostPort: '443' }], '53/udp': [{}] } } }));
    expect(plan.warnings.map((w) => w.details)).toEqual([expect.objectContaining({ containerPort: '80/tcp', hostPort: '8080' })]);
    expect(plan.create.HostConfig?.PortBindings).toBeUndefined();
    expect(codeOf(() => planContainer(scope, step({ Env: 'A=1' })))).toBe('FERRY_E_SIM_CONTAINER_FAILED');
    expect(codeOf(() => planContainer(scope, step({ HostConfig: { Binds: [1] } })))).toBe('FERRY_E_SIM_CONTAINER_FAILED');
    expect(containerName({ simulation: 'sim', scope: '/other' }, 'm1')).not.toBe(plan.name); // two workspaces, two names
  });

  it('demultiplexes stdout and stderr frames split across chunks', () => {
    const frame = (kind: number, text: string): Buffer => {
      const data = Buffer.from(text);
      const header = Buffer.alloc(8);
      header.writeUInt8(kind, 0);
      header.writeUInt32BE(data.length, 4);
      return Buffer.concat([header, data]);
    };
    const all = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err\n'), frame(1, 'out two\n')]);
    const demux = new ContainerLogDemux();
    const got = [...demux.push(all.subarray(0, 5)), ...demux.push(all.subarray(5, 19)), ...demux.push(all.subarray(19))];
    expect(got.map((c) => `${c.stream}:${c.data.toString()}`).join('')).toBe('stdout:out one\nstderr:err\nstdout:out two\n');
    expect(new ContainerLogDemux(true).push(Buffer.from('raw'))).toEqual([{ stream: 'stdout', data: Buffer.from('raw') }]);
  });

  it('finds the engine from DOCKER_HOST, else the default socket', () => {
    expect(locateDockerEngine({})).toMatchObject({ kind: 'unix', socketPath: '/var/run/docker.sock' });
    expect(locateDockerEngine({ DOCKER_HOST: 'unix:///tmp/x.sock' })).toMatchObject({ kind: 'unix', socketPath: '/tmp/x.sock' });
    expect(locateDockerEngine({ DOCKER_HOST: 'tcp://127.0.0.1:2375' })).toMatchObject({ kind: 'tcp', host: '127.0.0.1', port: 2375 });
    expect(codeOf(() => locateDockerEngine({ DOCKER_HOST: 'ssh://me@host' }))).toBe('FERRY_E_SIM_DOCKER_UNAVAILABLE');
  });
});

describe('without a Docker engine', () => {
  it('reports FERRY_E_SIM_DOCKER_UNAVAILABLE in the module status and still runs the other modules', async () => {
    const dir = temp('ferry-nodocker-');
    const l = new ModuleLauncher({ baseEnv: { DOCKER_HOST: `unix://${join(dir, 'none.sock')}` }, stopGraceMs: 1000 });
    const specs: ModuleSpec[] = [
      { id: 'boxed', restartPolicy: 'always', status: 'running', env: {}, run: { kind: 'container', image: 'any:1', createOptions: {} } },
      { id: 'local', restartPolicy: 'never', status: 'running', env: {}, run: { kind: 'process', command: [process.execPath, '-e', 'setTimeout(() => {}, 30000)'] } },
    ];
    await l.start(specs);
    try {
      expect(l.moduleStatus('boxed')).toMatchObject({ state: 'failed', container: null, error: { code: 'FERRY_E_SIM_DOCKER_UNAVAILABLE' } });
      expect(l.moduleStatus('local')).toMatchObject({ state: 'running' });
    } finally {
      await l.stop();
    }
  });
});

describe.skipIf(!engine)('container modules on a real Docker engine', () => {
  const e = engine as TestEngine;
  const gone = async (name: string): Promise<boolean> =>
    e.docker.getContainer(name).inspect().then(() => false, (err: { statusCode?: number }) => err.statusCode === 404);

  describe('in a simulation, with the real SDK inside the container', () => {
    let workspace: string;
    let out: string;
    let sim: Simulation;
    let leftover: string;

    beforeAll(async () => {
      workspace = temp('ferry-sim-docker-');
      out = temp('ferry-sim-docker-out-');
      const scope = { simulation: 'dock', scope: join(workspace, 'simulations', 'dock') };
      // What a SIGKILLed earlier run would have left: a container of the same simulation.
      leftover = containerName(scope, 'oldmodule');
      await e.docker.createContainer({ name: leftover, Image: e.nodeImage, Cmd: ['/usr/bin/node', '-e', '0'], Labels: containerLabels(scope, 'oldmodule'), HostConfig: { NetworkMode: 'host' } });
      const createOptions = {
        Cmd: ['/usr/bin/node', '/module/module.mjs'],
        Env: ['FROM_CREATE=create', 'OVERRIDDEN=create'],
        HostConfig: {
          Binds: [`${FIXTURE}:/module:ro`, `${NODE_MODULES}:/node_modules:ro`, `${out}:/out`],
          PortBindings: { '9999/tcp': [{ HostPort: '19999' }] },
        },
      };
      const manifest = parseDeploymentManifestText(JSON.stringify({
        modulesContent: {
          $edgeAgent: { 'properties.desired': {
            schemaVersion: '1.1', runtime: { type: 'docker', settings: {} },
            systemModules: { edgeAgent: { type: 'docker', settings: { image: 'mcr.microsoft.com/azureiotedge-agent:1.5' } }, edgeHub: { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: 'mcr.microsoft.com/azureiotedge-hub:1.5' } } },
            modules: {
              pinger: { version: '1.0', type: 'docker', status: 'running', restartPolicy: 'never', startupOrder: 1,
                env: { OVERRIDDEN: { value: 'manifest' }, SEND_COUNT: { value: '3' } },
                settings: { image: e.nodeImage, createOptions: JSON.stringify(createOptions) } },
              ghost: { version: '1.0', type: 'docker', status: 'running', restartPolicy: 'always', startupOrder: 2,
                settings: { image: 'ferry-test-absent:never', createOptions: '{}' } },
            },
          } },
          $edgeHub: { 'properties.desired': { schemaVersion: '1.1', routes: { up: 'FROM /messages/modules/pinger/outputs/out INTO $upstream' }, storeAndForwardConfiguration: { timeToLiveSecs: 7200 } } },
        },
      }));
      sim = await Simulation.start({ workspace, name: 'dock', manifest, mqttPort: 0, httpsPort: 0, baseEnv: { ...process.env, DOCKER_HOST: e.dockerHost }, stopGraceMs: 2000 });
    }, 60_000);
    afterAll(async () => { await sim?.stop(); });

    it('removed the leftover container of an earlier run of the same simulation', async () => {
      expect(await gone(leftover)).toBe(true);
      expect(sim.launcher.moduleStatus('pinger').container).not.toBe(leftover);
    });

    it('delivers the module\'s messages to $upstream, sees Env and Binds inside, streams both output streams', async () => {
      await until(() => sim.hub.recent({ moduleId: 'pinger' }).length >= 3, 30_000, 'three messages from the container');
      expect(sim.hub.recent({ moduleId: 'pinger' }).map((m) => m.properties.seq)).toEqual(['1', '2', '3']);
      const seen = JSON.parse(readFileSync(join(out, 'seen.json'), 'utf8')) as Record<string, unknown>;
      expect(seen).toEqual({
        env: { FROM_CREATE: 'create', OVERRIDDEN: 'manifest', IOTEDGE_MODULEID: 'pinger', hasConnectionString: true },
        caReadable: true, workloadIsSocket: true, nodeModulesWritable: false, outWritable: true,
      });
      const status = sim.status().modules.find((m) => m.id === 'pinger');
      expect(status).toMatchObject({ kind: 'container', state: 'running', connected: true, exitCode: null, container: containerName({ simulation: 'dock', scope: sim.dir }, 'pinger') });
      expect(status?.pid).toBeGreaterThan(0);
      const info = await e.docker.getContainer(status?.container ?? '').inspect();
      expect(info.HostConfig.NetworkMode).toBe('host');
      expect(info.Config.Labels).toMatchObject({ 'dev.ferry.simulation': 'dock', 'dev.ferry.module': 'pinger' });
      const lines: string[] = [];
      // The engine's log stream may trail the MQTT traffic a little: follow until the last line arrives.
      const follow = new AbortController();
      const timer = setTimeout(() => follow.abort(), 10_000);
      for await (const line of sim.launcher.logs('pinger', { follow: true, signal: follow.signal })) {
        lines.push(`${line.stream}:${line.text}`);
        if (line.text === 'sent 3') break;
      }
      clearTimeout(timer);
      expect(lines).toEqual(expect.arrayContaining(['stdout:checked', 'stdout:connected', 'stderr:sent 3']));
      expect(lines.some((l) => l.startsWith('launcher:FERRY_E_SIM_CONTAINER_OPTION_IGNORED'))).toBe(true);
    });

    it('reports a missing image by code without stopping the other modules', () => {
      expect(sim.launcher.moduleStatus('ghost')).toMatchObject({ state: 'failed', restarts: 0, error: { code: 'FERRY_E_SIM_IMAGE_MISSING' } });
    });

    it('stops the container with docker stop and removes it', async () => {
      const name = sim.launcher.moduleStatus('pinger').container ?? '';
      const stopped = await sim.launcher.stopModule('pinger');
      expect(stopped).toMatchObject({ state: 'stopped', exitCode: 0, container: null, pid: null });
      expect(await gone(name)).toBe(true);
      const lines = [];
      for await (const line of sim.launcher.logs('pinger')) lines.push(line.text);
      expect(lines).toContain('got SIGTERM');
    });
  });

  it('applies the restart policy to a failing container: backoff, restarts, then failed with its exit code', async () => {
    const dir = temp('ferry-docker-restart-');
    const scope = { simulation: 'restart', scope: dir };
    const l = new ModuleLauncher({ baseEnv: { DOCKER_HOST: e.dockerHost }, containers: scope, stopGraceMs: 1000, restart: { coolOffUnitMs: 50, maxRestarts: 2 } });
    const states: string[] = [];
    l.on('state', (s) => { if (s.id === 'crash') states.push(s.state); });
    await l.start([{ id: 'crash', restartPolicy: 'on-failure', status: 'running', env: {}, run: { kind: 'container', image: e.nodeImage, createOptions: {
      Cmd: ['/usr/bin/node', '-e', 'console.error("boom"); process.exit(3)'],
    } } }]);
    try {
      await until(() => l.moduleStatus('crash').state === 'failed', 30_000, 'the container to be given up');
      expect(l.moduleStatus('crash')).toMatchObject({ state: 'failed', restarts: 2, exitCode: 3, container: null, error: null });
      expect(states.filter((s) => s === 'backoff')).toHaveLength(2);
      const lines = [];
      for await (const line of l.logs('crash')) lines.push(`${line.stream}:${line.text}`);
      expect(lines.filter((t) => t === 'stderr:boom')).toHaveLength(3);
      expect(await gone(containerName(scope, 'crash'))).toBe(true);
    } finally {
      await l.stop();
    }
  });
});
