/**
 * Staging folders abandoned by dead processes (stale-staging.ts), through each way in: DeviceModelStore.open
 * and writeModel (`.staging-*` in the models folder) and fetchModel (`.fetch-*` in the model cache).
 * Leftovers are made by real child processes that then exit (so their pid is free); ages are set with
 * lutimes. A fetch that sweeps goes to a local TCP server that never answers the TLS handshake.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, lutimesSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFixtureModels } from '@ferry/test';
import type { FixtureModels } from '@ferry/test';
import { DeviceModelStore, fetchModel } from '../src/device-models/index.js';
import { isFerryError } from '../src/errors.js';

const HOUR = 3_600_000;
const SHA = 'ab'.repeat(32);

let tmp: string;
let fx: FixtureModels;
let silent: Server;
let silentUrl: string;
const sockets = new Set<Socket>();
let counter = 0;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ferry-stale-staging-'));
  fx = await writeFixtureModels(join(tmp, 'fixtures'));
  // Accepts connections and never speaks: a fetch to it hangs in the TLS handshake until its idle timeout.
  silent = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentUrl = `https://127.0.0.1:${(silent.address() as AddressInfo).port}/models/m.onnx`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent.close(r));
  rmSync(tmp, { recursive: true, force: true });
});

const freshDir = (): string => {
  const dir = join(tmp, `dir-${++counter}`);
  mkdirSync(dir);
  return dir;
};

/** Sets an entry's own mtime (a link's, not its target's) `ms` in the past. */
function age(path: string, ms: number): void {
  const t = (Date.now() - ms) / 1000;
  lutimesSync(path, t, t);
}

/**
 * A staging folder made by another node process as the store and fetch name theirs (with a 64 KiB
 * file in it), the process then exits: returns the folder's name and the (now free) pid.
 */
function leftByDeadProcess(dir: string, kind: string): { name: string; pid: number } {
  const script = `const fs = require('node:fs'), path = require('node:path');
const d = fs.mkdtempSync(path.join(process.argv[1], process.argv[2] + process.pid + '-'));
fs.writeFileSync(path.join(d, 'body.partial'), Buffer.alloc(65536));
process.stdout.write(path.basename(d));`;
  const name = execFileSync(process.execPath, ['-e', script, dir, kind], { encoding: 'utf8' });
  const pid = Number(name.slice(kind.length).split('-')[0]);
  expect(name).toMatch(new RegExp(`^${kind.replace('.', '\\.')}${pid}-[A-Za-z0-9]{6}$`));
  expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  return { name, pid };
}

/** A folder named as `kind` staging of `pid`, with a file in it, `ms` old. */
function stagingOf(dir: string, kind: string, pid: number | undefined, suffix: string, ms: number): string {
  const name = `${kind}${pid === undefined ? '' : `${pid}-`}${suffix}`;
  mkdirSync(join(dir, name));
  writeFileSync(join(dir, name, 'body.partial'), 'partial');
  age(join(dir, name), ms);
  return name;
}

const entries = (dir: string): string[] => readdirSync(dir).sort();

async function fetchFailure(cacheDir: string): Promise<string> {
  try {
    await fetchModel({ url: silentUrl, sha256: SHA }, { cacheDir, idleTimeoutMs: 200 });
  } catch (e) {
    if (isFerryError(e)) return e.code;
    throw e;
  }
  throw new Error('expected the fetch to fail');
}

/** The two places staging folders live, and the call that sweeps each. */
const ways = [
  { way: 'DeviceModelStore.open', kind: '.staging-', sweep: (dir: string): Promise<void> => Promise.resolve(void DeviceModelStore.open(dir)) },
  {
    way: 'fetchModel', kind: '.fetch-',
    sweep: async (dir: string): Promise<void> => {
      expect(await fetchFailure(dir)).toBe('FERRY_E_DEVICE_MODEL_FETCH_TIMEOUT');
    },
  },
];

describe.each(ways)('$way sweeps $kind leftovers', ({ kind, sweep }) => {
  it('removes an old one whose process is dead, and keeps a young one', async () => {
    const dir = freshDir();
    const old = leftByDeadProcess(dir, kind);
    const young = leftByDeadProcess(dir, kind);
    age(join(dir, old.name), HOUR);
    age(join(dir, young.name), 60_000);
    await sweep(dir);
    const left = entries(dir);
    expect(left).not.toContain(old.name);
    expect(left).toContain(young.name);
    expect(readdirSync(join(dir, young.name))).toEqual(['body.partial']);
  });

  it('keeps an old one whose process runs, and removes old ones without a pid', async () => {
    const dir = freshDir();
    // A live process that is not this one (this one's own pid is the container-restart case below).
    const child: ChildProcess = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const pid = child.pid as number;
      const running = stagingOf(dir, kind, pid, 'aB3xY9', HOUR);
      const oldFormat = stagingOf(dir, kind, undefined, 'Qw12er', HOUR);
      const youngOldFormat = stagingOf(dir, kind, undefined, 'Zx98cv', 60_000);
      await sweep(dir);
      const left = entries(dir);
      expect(left).toContain(running);
      expect(left).not.toContain(oldFormat);
      expect(left).toContain(youngOldFormat);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it("removes an old one named with this process's pid that predates this process (a restarted container's pid)", async () => {
    const dir = freshDir();
    const before = stagingOf(dir, kind, process.pid, 'pQ7rS2', HOUR);
    const since = stagingOf(dir, kind, process.pid, 'mN4bV6', 0);
    await sweep(dir);
    const left = entries(dir);
    expect(left).not.toContain(before);
    expect(left).toContain(since);
  });

  it('touches nothing else, and removes a link by that name without following it', async () => {
    const dir = freshDir();
    const dead = leftByDeadProcess(dir, kind);
    // Outside the folder: what a link named like a leftover points to.
    const outside = join(freshDir(), 'precious');
    mkdirSync(outside);
    writeFileSync(join(outside, 'model.onnx'), 'keep me');
    const link = `${kind}${dead.pid}-L1nk00`;
    symlinkSync(outside, join(dir, link));
    const others = [
      'lin', // a model name
      'sha256', 'http', // the cache's own folders
      `${kind.slice(0, -1)}`, // `.staging` / `.fetch`
      `${kind}${dead.pid}-abc`, // not a mkdtemp name
      `${kind}${dead.pid}-abcdef.bak`,
      `${kind.slice(1)}${dead.pid}-abcdef`, // no dot
      `x${kind}${dead.pid}-abcdef`,
    ];
    for (const name of others) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'file'), name);
    }
    mkdirSync(join(dir, 'lin', '1'));
    // A file (not a folder) by a leftover's name: never what a writer makes.
    const file = `${kind}${dead.pid}-F1le00`;
    writeFileSync(join(dir, file), 'a file');
    for (const name of [dead.name, link, file, ...others, 'lin/1']) age(join(dir, name), HOUR);

    await sweep(dir);
    expect(entries(dir)).toEqual([...others, file].sort());
    for (const name of others) expect(readFileSync(join(dir, name, 'file'), 'utf8')).toBe(name);
    expect(existsSync(join(dir, 'lin', '1'))).toBe(true);
    expect(readFileSync(join(outside, 'model.onnx'), 'utf8')).toBe('keep me');
  });
});

describe('the ways in', () => {
  it('writeModel sweeps the models folder before it stages, and leaves only the model', () => {
    const dir = freshDir();
    const dead = leftByDeadProcess(dir, '.staging-');
    age(join(dir, dead.name), HOUR);
    DeviceModelStore.writeModel(dir, { name: 'linear', version: 1, path: fx.linear.path });
    expect(entries(dir)).toEqual(['linear']);
    expect(DeviceModelStore.open(dir).resolveModel({ name: 'linear', version: undefined }).version).toBe(1);
  });

  it("fetchModel downloads into a folder named with this process's pid, removed when the download is cancelled", async () => {
    const cacheDir = freshDir();
    const abort = new AbortController();
    const fetching = fetchModel({ url: silentUrl, sha256: SHA }, { cacheDir, signal: abort.signal });
    fetching.catch(() => undefined);
    let staging: string[] = [];
    for (let i = 0; i < 100 && staging.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      staging = entries(cacheDir).filter((n) => n.startsWith('.fetch-'));
    }
    expect(staging).toEqual([expect.stringMatching(new RegExp(`^\\.fetch-${process.pid}-[A-Za-z0-9]{6}$`))]);
    abort.abort();
    await expect(fetching).rejects.toMatchObject({ code: 'FERRY_E_DEVICE_MODEL_FETCH_ABORTED' });
    // The caller is answered first; the cancelled download then removes its folder.
    for (let i = 0; i < 50 && entries(cacheDir).length > 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(entries(cacheDir)).toEqual(['sha256']);
  });
});
