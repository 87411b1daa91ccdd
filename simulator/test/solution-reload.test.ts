/**
 * Simulation.reload and the launcher (issue 3 §6): a module added by a reloaded manifest is started, a changed
 * one is restarted with its new entry (new environment, new pid), a removed one is stopped. Real processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentDocument, parseDeploymentManifest, type DeploymentManifest } from '@ferry/deployment-manifests';
import { Simulation } from '../src/solution/simulation.js';
import { parseSolution } from '../src/solution/solution-file.js';

const MODULE = fileURLToPath(new URL('./fixtures/launcher/module.mjs', import.meta.url));

function manifest(modules: Record<string, string>): DeploymentManifest {
  return parseDeploymentManifest(deploymentDocument({
    modules: Object.fromEntries(Object.entries(modules).map(([id, colour]) => [id, { restartPolicy: 'never', env: { COLOUR: colour } }])),
    routes: { up: 'FROM /messages/* INTO $upstream' },
  }), 'test manifest');
}

let dir: string;
let sim: Simulation;

const solution = parseSolution({
  modules: Object.fromEntries(['first', 'second'].map((id) => [id, { command: [process.execPath, MODULE, 'env', 'COLOUR', 'IOTEDGE_MODULEID'] }])),
}, tmpdir());

async function output(id: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of sim.launcher.logs(id)) out.push(l.text);
  return out;
}

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-sim-reload-'));
  sim = await Simulation.start({
    workspace: dir, name: 'reload', manifest: manifest({ first: 'red' }), solution, mqttPort: 0, httpsPort: null, dashboardPort: null, stopGraceMs: 2000,
  });
});

afterAll(async () => {
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Simulation.reload', () => {
  it('starts an added module, restarts a changed one with its new entry, and stops a removed one', async () => {
    await until(async () => (await output('first')).includes('COLOUR=red'), 10_000, 'the first module');
    const firstPid = sim.launcher.moduleStatus('first').pid;
    expect(firstPid).not.toBeNull();

    const result = await sim.reload(manifest({ first: 'blue', second: 'green' }));
    expect(result.added).toEqual(['second']);
    expect(result.changed).toEqual(['first']);
    await until(async () => (await output('second')).includes('COLOUR=green'), 10_000, 'the added module');
    await until(async () => (await output('first')).includes('COLOUR=blue'), 10_000, 'the restarted module');
    const first = sim.launcher.moduleStatus('first');
    expect(first.state).toBe('running');
    expect(first.pid).not.toBe(firstPid);
    expect(await output('second')).toContain('IOTEDGE_MODULEID=second');
    // The earlier run's output is still there, ahead of the new run's.
    const firstOut = await output('first');
    expect(firstOut.indexOf('COLOUR=red')).toBeLessThan(firstOut.indexOf('COLOUR=blue'));

    const again = await sim.reload(manifest({ second: 'green' }));
    expect(again.removed).toEqual(['first']);
    expect(again.changed).toEqual([]);
    expect(sim.launcher.moduleStatus('first').state).toBe('stopped');
    expect(sim.launcher.moduleStatus('second').state).toBe('running');
  });
});
