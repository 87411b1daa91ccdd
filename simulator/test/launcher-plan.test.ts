/**
 * The launcher's planners on plain data: start order, stop order, and edgeAgent's restart semantics
 * (Azure/iotedge RestartPolicyManager: backoff unit × 2^count capped at 300 s, give up after the
 * maximum, counts cleared after the intensive care time; exit 0 is "stopped", anything else "failed").
 */
import { describe, expect, it } from 'vitest';
import { planStart, planStop, validateModuleSpecs } from '../src/launcher/launch-plan.js';
import type { ModuleSpec } from '../src/launcher/module-spec.js';
import { DEFAULT_RESTART_OPTIONS, coolOffMs, planRestart, type ModuleExit, type RunRecord } from '../src/launcher/restart-policy.js';

function spec(id: string, extra: Partial<ModuleSpec> = {}): ModuleSpec {
  return { id, startupOrder: 0, restartPolicy: 'always', status: 'running', env: {}, run: { kind: 'process', command: ['node', `${id}.js`] }, ...extra };
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('planStart', () => {
  it('orders by startupOrder, ties by id, modules without an order last (edgeAgent default uint32 max)', () => {
    const steps = planStart([
      spec('zeta', { startupOrder: 1 }),
      spec('late', { startupOrder: undefined }),
      spec('beta', { startupOrder: 2 }),
      spec('alpha', { startupOrder: 1 }),
      spec('Alpha', { startupOrder: 1 }),
      spec('first', { startupOrder: 0 }),
    ]);
    expect(steps.map((s) => s.moduleId)).toEqual(['first', 'Alpha', 'alpha', 'zeta', 'beta', 'late']);
  });

  it('does not start modules whose desired status is stopped, but lists them', () => {
    const steps = planStart([spec('a', { startupOrder: 2 }), spec('b', { startupOrder: 1, status: 'stopped' })]);
    expect(steps).toEqual([
      { kind: 'keep-stopped', moduleId: 'b' },
      { kind: 'start-process', moduleId: 'a', command: ['node', 'a.js'], cwd: undefined, env: {} },
    ]);
  });

  it('overlays the caller\'s extra env on the manifest env, per module', () => {
    const steps = planStart(
      [spec('a', { env: { MODE: 'fast', EdgeHubConnectionString: 'stale' } }), spec('b', { env: { MODE: 'slow' } })],
      { a: { EdgeHubConnectionString: 'HostName=h;DeviceId=d;ModuleId=a;SharedAccessKey=k', EdgeModuleCACertificateFile: '/ca.pem' } },
    );
    expect(steps.map((s) => (s.kind === 'start-process' ? s.env : null))).toEqual([
      { MODE: 'fast', EdgeHubConnectionString: 'HostName=h;DeviceId=d;ModuleId=a;SharedAccessKey=k', EdgeModuleCACertificateFile: '/ca.pem' },
      { MODE: 'slow' },
    ]);
  });

  it('plans container modules as container steps with their image and create options', () => {
    const createOptions = { HostConfig: { Binds: ['/data:/data'] } };
    const [step] = planStart([spec('c', { run: { kind: 'container', image: 'scorer:1.0-amd64', createOptions }, env: { A: '1' } })]);
    expect(step).toEqual({ kind: 'start-container', moduleId: 'c', image: 'scorer:1.0-amd64', createOptions, env: { A: '1' } });
  });

  it('copies the command so later changes to the spec do not change the plan', () => {
    const command = ['node', 'x.js'];
    const [step] = planStart([spec('a', { run: { kind: 'process', command } })]);
    command.push('--evil');
    expect(step).toMatchObject({ command: ['node', 'x.js'] });
  });

  it.each([
    ['a bad id', [spec('a.b')]],
    ['a repeated id', [spec('a'), spec('a')]],
    ['a negative startupOrder', [spec('a', { startupOrder: -1 })]],
    ['a fractional startupOrder', [spec('a', { startupOrder: 1.5 })]],
    ['an unknown restart policy', [spec('a', { restartPolicy: 'sometimes' as never })]],
    ['an unknown status', [spec('a', { status: 'paused' as never })]],
    ['an empty command', [spec('a', { run: { kind: 'process', command: [] } })]],
    ['a NUL in an argument', [spec('a', { run: { kind: 'process', command: ['node', 'a\0b'] } })]],
    ['a non-string env value', [spec('a', { env: { N: 1 as never } })]],
    ['an env name with =', [spec('a', { env: { 'A=B': 'x' } })]],
    ['an empty image', [spec('a', { run: { kind: 'container', image: '', createOptions: {} } })]],
    ['an unknown run kind', [spec('a', { run: { kind: 'vm' } as never })]],
  ])('refuses %s with FERRY_E_SIM_MODULE_SPEC_INVALID', (_what, specs) => {
    expect(codeOf(() => planStart(specs))).toBe('FERRY_E_SIM_MODULE_SPEC_INVALID');
  });

  it('accepts a valid solution', () => {
    expect(codeOf(() => validateModuleSpecs([spec('a'), spec('b_2-x', { startupOrder: 4294967295 })]))).toBeUndefined();
  });
});

describe('planStop', () => {
  it('stops live modules in the reverse of the start order', () => {
    const steps = planStop([
      { id: 'b', startupOrder: 1, live: true },
      { id: 'a', startupOrder: 1, live: true },
      { id: 'first', startupOrder: 0, live: true },
      { id: 'idle', startupOrder: 5, live: false },
      { id: 'last', live: true },
    ]);
    expect(steps).toEqual(['last', 'b', 'a', 'first'].map((moduleId) => ({ kind: 'stop', moduleId })));
  });
});

describe('planRestart (edgeAgent semantics)', () => {
  const t0 = 1_750_000_000_000;
  const run = (restartPolicy: RunRecord['restartPolicy'], restartCount = 0): RunRecord => ({ moduleId: 'm', restartPolicy, restartCount, startedAt: t0 });
  const exit = (code: number | null, extra: Partial<ModuleExit> = {}): ModuleExit => ({ code, signal: null, at: t0 + 1000, stopRequested: false, ...extra });

  it('backoff doubles from the unit and is capped at 300 s', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => coolOffMs(n))).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    expect(coolOffMs(3, { ...DEFAULT_RESTART_OPTIONS, coolOffUnitMs: 50, maxCoolOffMs: 300 })).toBe(300);
  });

  it('never: nothing is restarted; exit 0 is exited, anything else failed', () => {
    expect(planRestart(run('never'), exit(0))).toMatchObject({ kind: 'settle', state: 'exited', reason: 'policy' });
    expect(planRestart(run('never'), exit(1))).toMatchObject({ kind: 'settle', state: 'failed', reason: 'policy' });
    expect(planRestart(run('never'), exit(null, { signal: 'SIGSEGV' }))).toMatchObject({ kind: 'settle', state: 'failed' });
  });

  it.each(['on-failure', 'on-unhealthy'] as const)('%s: restarts after a failure with growing backoff, not after exit 0', (policy) => {
    expect(planRestart(run(policy), exit(0))).toMatchObject({ kind: 'settle', state: 'exited' });
    expect(planRestart(run(policy, 0), exit(2))).toEqual({ kind: 'restart', moduleId: 'm', delayMs: 10_000, restartCount: 1 });
    expect(planRestart(run(policy, 2), exit(2))).toEqual({ kind: 'restart', moduleId: 'm', delayMs: 40_000, restartCount: 3 });
    expect(planRestart(run(policy, 1), exit(null, { signal: 'SIGKILL' }))).toMatchObject({ kind: 'restart', delayMs: 20_000 });
  });

  it('always: restarts after exit 0 too', () => {
    expect(planRestart(run('always'), exit(0))).toEqual({ kind: 'restart', moduleId: 'm', delayMs: 10_000, restartCount: 1 });
  });

  it('gives up as failed at the restart limit, whatever the policy', () => {
    expect(planRestart(run('always', 4), exit(0))).toMatchObject({ kind: 'restart', delayMs: 160_000, restartCount: 5 });
    expect(planRestart(run('always', 5), exit(0))).toEqual({ kind: 'settle', moduleId: 'm', state: 'failed', restartCount: 5, reason: 'restart-limit' });
    expect(planRestart(run('on-failure', 5), exit(1))).toMatchObject({ kind: 'settle', state: 'failed', reason: 'restart-limit' });
  });

  it('clears the count when the run lasted the intensive care time (10 min)', () => {
    const longRun = exit(1, { at: t0 + 600_000 });
    expect(planRestart(run('on-failure', 5), longRun)).toEqual({ kind: 'restart', moduleId: 'm', delayMs: 10_000, restartCount: 1 });
    const shortRun = exit(1, { at: t0 + 599_999 });
    expect(planRestart(run('on-failure', 3), shortRun)).toMatchObject({ kind: 'restart', delayMs: 80_000, restartCount: 4 });
  });

  it('a requested stop is never restarted', () => {
    expect(planRestart(run('always'), exit(null, { signal: 'SIGTERM', stopRequested: true }))).toMatchObject({ kind: 'settle', state: 'stopped', reason: 'stop-requested' });
  });
});
