/**
 * The module launcher on real child processes (node scripts in fixtures/launcher): start order, env,
 * output capture, restart policies with backoff, stop with SIGTERM then SIGKILL, status, follow mode.
 * Backoff units and grace periods are small and injected, so the file runs in a few seconds.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModuleLauncher, type LauncherOptions, type ModuleStatus } from '../src/launcher/module-launcher.js';
import type { LogLine } from '../src/launcher/log-buffer.js';
import type { ModuleSpec } from '../src/launcher/module-spec.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/launcher/module.mjs');
let root: string;
const launchers: ModuleLauncher[] = [];
beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'ferry-launcher-')); });
afterEach(async () => { await Promise.all(launchers.splice(0).map((l) => l.stop())); });
afterAll(() => rmSync(root, { recursive: true, force: true }));

function launcher(options: LauncherOptions = {}): ModuleLauncher {
  const l = new ModuleLauncher({ stopGraceMs: 2000, ...options });
  launchers.push(l);
  return l;
}

function mod(id: string, args: string[], extra: Partial<ModuleSpec> = {}): ModuleSpec {
  return { id, startupOrder: 0, restartPolicy: 'never', status: 'running', env: {}, run: { kind: 'process', command: [process.execPath, fixture, ...args] }, ...extra };
}

async function lines(l: ModuleLauncher, id: string, stream: LogLine['stream'] | 'any' = 'stdout'): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const line of l.logs(id)) if (stream === 'any' || line.stream === stream) out.push(line);
  return out;
}

async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const byId = (l: ModuleLauncher, id: string): ModuleStatus => l.moduleStatus(id);
const codeOf = async (f: () => unknown): Promise<string | undefined> => {
  try {
    await f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('ModuleLauncher with process modules', () => {
  it('starts modules in startupOrder (ties by id), skips stopped ones, and passes manifest, extra and base env', async () => {
    const l = launcher({ baseEnv: { BASE: 'inherited', FOO: 'base' } });
    const starting: string[] = [];
    l.on('state', (s) => { if (s.state === 'starting') starting.push(s.id); });
    const names = ['FOO', 'BASE', 'EdgeHubConnectionString'];
    const statuses = await l.start(
      [
        mod('c', ['env', ...names], { startupOrder: 2 }),
        mod('b', ['env', ...names], { startupOrder: 1, env: { FOO: 'b-manifest' } }),
        mod('a', ['env', ...names], { startupOrder: 1, env: { FOO: 'a-manifest', EdgeHubConnectionString: 'from-manifest' } }),
        mod('off', ['env'], { startupOrder: 0, status: 'stopped' }),
      ],
      { a: { EdgeHubConnectionString: 'HostName=hub;DeviceId=d;ModuleId=a;SharedAccessKey=a2V5' } },
    );
    expect(statuses.map((s) => [s.id, s.state])).toEqual([['off', 'stopped'], ['a', 'running'], ['b', 'running'], ['c', 'running']]);
    expect(starting).toEqual(['a', 'b', 'c']);

    const report = async (id: string) => waitFor(`${id}'s output`, async () => {
      const text = (await lines(l, id)).map((x) => x.text);
      return text.length === 4 ? text : undefined;
    });
    const [a, b, c] = [await report('a'), await report('b'), await report('c')];
    expect(a.slice(1)).toEqual(['FOO=a-manifest', 'BASE=inherited', 'EdgeHubConnectionString=HostName=hub;DeviceId=d;ModuleId=a;SharedAccessKey=a2V5']);
    expect(b.slice(1)).toEqual(['FOO=b-manifest', 'BASE=inherited', 'EdgeHubConnectionString=<unset>']);
    expect(c.slice(1)).toEqual(['FOO=base', 'BASE=inherited', 'EdgeHubConnectionString=<unset>']);
    // Each child reports its own pid; the kernel hands out pids in fork order, so start order is observable.
    const pids = [a, b, c].map((out) => Number(out[0]!.slice('pid='.length)));
    expect(pids).toEqual(['a', 'b', 'c'].map((id) => byId(l, id).pid));
    expect(pids[0]! < pids[1]! && pids[1]! < pids[2]!).toBe(true);
    expect(await lines(l, 'off', 'any')).toEqual([]);
    expect(byId(l, 'off').pid).toBeNull();
  });

  it('captures stdout and stderr line by line, in order, bounded in memory and whole in the log file', async () => {
    const logDir = join(root, 'logs');
    const l = launcher({ logLines: 100, logDir });
    await l.start([mod('many', ['lines', '500']), mod('few', ['lines', '3'], { startupOrder: 1 })]);
    await waitFor('both to exit', () => ['many', 'few'].every((id) => byId(l, id).state === 'exited'));

    const many = await lines(l, 'many', 'any');
    expect(many).toHaveLength(100);
    const out = many.filter((x) => x.stream === 'stdout').map((x) => x.text);
    const expected = Array.from({ length: 500 }, (_, i) => `out ${i + 1}`);
    expect(out).toEqual(expected.slice(500 - out.length));
    expect(many.map((x) => x.seq)).toEqual(Array.from({ length: 100 }, (_, i) => many[0]!.seq + i));
    expect(many.some((x) => x.stream === 'stderr' && x.text === 'err done')).toBe(true);

    const few = await lines(l, 'few', 'any');
    expect(few.filter((x) => x.stream !== 'launcher').map((x) => `${x.stream}:${x.text}`)).toEqual(['stdout:out 1', 'stdout:out 2', 'stdout:out 3', 'stderr:err done']);
    expect(byId(l, 'few')).toMatchObject({ state: 'exited', exitCode: 0, signal: null, pid: null, restarts: 0 });

    await l.stop(); // closes the log files
    const file = await waitFor('the log file', () => {
      const text = readFileSync(join(logDir, 'many.log'), 'utf8');
      return text.includes('exited with code 0') ? text : undefined;
    });
    const fileOut = file.split('\n').filter((x) => / stdout /.test(x)).map((x) => x.replace(/^\S+ stdout /, ''));
    expect(fileOut).toEqual(expected);
  });

  it('on-failure restarts after a non-zero exit with doubling backoff, then gives up at the limit', async () => {
    const l = launcher({ restart: { coolOffUnitMs: 80, maxRestarts: 3 } });
    const backoffs: number[] = [];
    l.on('state', (s) => { if (s.state === 'backoff') backoffs.push(Date.parse(s.nextRestartAt!) - Date.parse(s.exitedAt!)); });
    await l.start([mod('crash', ['exit', '3'], { restartPolicy: 'on-failure' })]);
    await waitFor('the module to be given up', () => byId(l, 'crash').state === 'failed', 8000);

    const starts = (await lines(l, 'crash')).map((x) => Number(x.text.slice('start '.length)));
    expect(starts).toHaveLength(4);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(80);
    expect(gaps[1]).toBeGreaterThanOrEqual(160);
    expect(gaps[2]).toBeGreaterThanOrEqual(320);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
    expect(backoffs).toEqual([80, 160, 320]);
    expect(byId(l, 'crash')).toMatchObject({ state: 'failed', restarts: 3, exitCode: 3, signal: null, pid: null, nextRestartAt: null });
  });

  it('never restarts nothing; on-failure leaves a clean exit alone; always restarts after exit 0', async () => {
    const l = launcher({ restart: { coolOffUnitMs: 40, maxRestarts: 2 } });
    await l.start([
      mod('never', ['exit', '1'], { restartPolicy: 'never' }),
      mod('clean', ['exit', '0'], { restartPolicy: 'on-failure' }),
      mod('always', ['exit', '0'], { restartPolicy: 'always' }),
    ]);
    await waitFor('always to reach its limit', () => byId(l, 'always').state === 'failed');
    await new Promise((r) => setTimeout(r, 200)); // several backoff units: a wrongful restart would show
    expect(byId(l, 'never')).toMatchObject({ state: 'failed', restarts: 0, exitCode: 1 });
    expect(byId(l, 'clean')).toMatchObject({ state: 'exited', restarts: 0, exitCode: 0 });
    expect(byId(l, 'always')).toMatchObject({ state: 'failed', restarts: 2, exitCode: 0 });
    expect(await lines(l, 'never')).toHaveLength(1);
    expect(await lines(l, 'clean')).toHaveLength(1);
    expect(await lines(l, 'always')).toHaveLength(3);
    for (const s of l.status()) expect(Date.parse(s.exitedAt!)).toBeGreaterThanOrEqual(Date.parse(s.startedAt!));
  });

  it('stop sends SIGTERM, then SIGKILL after the grace period to a module that ignores SIGTERM', async () => {
    const l = launcher({ stopGraceMs: 300 });
    await l.start([mod('stubborn', ['stubborn'], { restartPolicy: 'always' })]);
    await waitFor('ready', async () => (await lines(l, 'stubborn')).some((x) => x.text === 'ready'));
    const running = byId(l, 'stubborn');
    expect(running).toMatchObject({ state: 'running', exitCode: null, signal: null, exitedAt: null });
    expect(running.pid).toBeTypeOf('number');
    expect(Number.isNaN(Date.parse(running.startedAt!))).toBe(false);

    const t0 = Date.now();
    const stopped = await l.stopModule('stubborn');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect((await lines(l, 'stubborn')).map((x) => x.text)).toContain('got SIGTERM');
    expect(stopped).toMatchObject({ state: 'stopped', signal: 'SIGKILL', exitCode: null, pid: null, restarts: 0 });
    expect(() => process.kill(running.pid!, 0)).toThrow(); // ESRCH: really gone
  });

  it('a module that honours SIGTERM stops without waiting for the grace period and is not restarted', async () => {
    const l = launcher({ stopGraceMs: 5000, restart: { coolOffUnitMs: 10 } });
    await l.start([mod('polite', ['env'], { restartPolicy: 'always' })]);
    await waitFor('pid line', async () => (await lines(l, 'polite')).length === 1);
    const t0 = Date.now();
    await l.stop();
    expect(Date.now() - t0).toBeLessThan(4000);
    await new Promise((r) => setTimeout(r, 100));
    expect(byId(l, 'polite')).toMatchObject({ state: 'stopped', exitCode: 0, signal: null, restarts: 0 });
  });

  it('signals the whole process group: children a module leaves behind end with it', async () => {
    const l = launcher({ stopGraceMs: 5000 });
    await l.start([mod('family', ['family'])]);
    const child = await waitFor('the child', async () => {
      const text = (await lines(l, 'family')).map((x) => x.text);
      const pid = text.find((x) => x.startsWith('child='));
      return pid && text.includes('ready') ? Number(pid.slice('child='.length)) : undefined;
    });
    expect(() => process.kill(child, 0)).not.toThrow();
    const t0 = Date.now();
    await l.stopModule('family'); // the parent exits on SIGTERM; its child ignores SIGTERM and is killed with the group
    expect(Date.now() - t0).toBeLessThan(4000);
    expect((await lines(l, 'family')).map((x) => x.text)).toContain('got SIGTERM');
    await waitFor('the child to be gone', () => { try { process.kill(child, 0); return false; } catch { return true; } });
  });

  it('follow mode streams new lines as the module writes them, until the caller stops reading', async () => {
    const l = launcher();
    await l.start([mod('ticker', ['tick', '20'])]);
    await waitFor('first tick', async () => (await lines(l, 'ticker')).length > 0);
    const buffered = (await lines(l, 'ticker')).length;
    const seen: string[] = [];
    for await (const line of l.logs('ticker', { follow: true })) {
      if (line.stream === 'stdout') seen.push(line.text);
      if (seen.length === buffered + 5) break;
    }
    expect(seen).toEqual(Array.from({ length: buffered + 5 }, (_, i) => `tick ${i + 1}`));

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    let count = 0;
    for await (const _line of l.logs('ticker', { follow: true, signal: controller.signal })) count++;
    expect(count).toBeGreaterThan(buffered + 5);

    const ended = (async () => { const all: LogLine[] = []; for await (const line of l.logs('ticker', { follow: true })) all.push(line); return all; })();
    await l.stop();
    const all = await ended; // stopping the launcher ends followers
    expect(all.at(-1)?.stream).toBe('launcher');
  });

  it('reports a command that cannot start and a container module without Docker, and still runs the others', async () => {
    const l = launcher({ baseEnv: { ...process.env, DOCKER_HOST: `unix://${join(root, 'no-docker.sock')}` } });
    const statuses = await l.start([
      mod('missing', [], { run: { kind: 'process', command: [join(root, 'no-such-program')] } }),
      { id: 'boxed', startupOrder: 1, restartPolicy: 'always', status: 'running', env: {}, run: { kind: 'container', image: 'scorer:1.0-amd64', createOptions: {} } },
      mod('fine', ['env'], { startupOrder: 2 }),
    ]);
    const [missing, boxed, fine] = statuses;
    expect(missing).toMatchObject({ state: 'failed', pid: null, error: { code: 'FERRY_E_SIM_MODULE_START_FAILED' } });
    expect(missing!.error!.message).toContain('ENOENT');
    expect(boxed).toMatchObject({ kind: 'container', state: 'failed', error: { code: 'FERRY_E_SIM_DOCKER_UNAVAILABLE' } });
    expect(fine).toMatchObject({ state: 'running' });
  });

  it('refuses unknown modules, a second start and bad specs with codes', async () => {
    const l = launcher();
    expect(await codeOf(() => l.start([mod('x', ['env']), mod('x', ['env'])]))).toBe('FERRY_E_SIM_MODULE_SPEC_INVALID');
    expect(l.status()).toEqual([]); // nothing was started
    await l.start([mod('one', ['exit', '0'])]);
    expect(await codeOf(() => l.start([mod('two', ['exit', '0'])]))).toBe('FERRY_E_SIM_LAUNCHER_STATE');
    expect(await codeOf(() => l.logs('nope'))).toBe('FERRY_E_SIM_MODULE_UNKNOWN');
    expect(await codeOf(() => l.stopModule('nope'))).toBe('FERRY_E_SIM_MODULE_UNKNOWN');
  });
});
