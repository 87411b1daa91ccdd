/**
 * Issue 3 §3: killing the simulator with SIGKILL mid-stream loses no accepted message. A child process
 * appends messages and reports each offset once its append resolved; it is killed at random moments,
 * several rounds on one store; after each round every reported offset must be there with its exact
 * content, nothing in the store may be damaged, and the store must take appends again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleChildScript } from '@ferry/test';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageStore, type QueuedMessage } from '../src/store/index.js';
import { crashMessage } from './fixtures/store-crash-message.js';

const here = dirname(fileURLToPath(import.meta.url));
let root: string;
let child: string;

/** Bundles the child and the store source into one .mjs; packages stay external, by absolute path. */
function bundleChild(outDir: string): Promise<string> {
  return bundleChildScript(join(here, 'fixtures/store-child.ts'), join(outDir, 'store-child.mjs'), resolve(here, '../package.json'));
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'ferry-store-crash-'));
  child = await bundleChild(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Round { reported: Map<number, number>; signal: NodeJS.Signals | null; stderr: string }

/** Runs the child until `killAfterMs` after it said ready, then SIGKILLs it. */
function runAndKill(file: string, first: number, killAfterMs: number): Promise<Round> {
  return new Promise((done, fail) => {
    const proc = spawn(process.execPath, [child, file, String(first)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    proc.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!timer && stdout.startsWith('ready\n')) timer = setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
    });
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    proc.on('error', fail);
    proc.on('close', (_code, signal) => {
      clearTimeout(timer);
      const reported = new Map<number, number>();
      // Only whole lines count: a line cut by the kill was never reported.
      for (const line of stdout.split('\n').slice(1, -1)) {
        const [offset, i] = line.split(' ').map(Number);
        reported.set(offset!, i!);
      }
      done({ reported, signal, stderr });
    });
  });
}

function readAll(store: MessageStore, endpoint: string): Map<number, QueuedMessage> {
  const all = new Map<number, QueuedMessage>();
  for (let page = store.next(endpoint, 1000); page.length > 0; page = store.next(endpoint, 1000)) {
    for (const q of page) all.set(q.offset, q);
  }
  return all;
}

function expectExact(q: QueuedMessage, i: number): void {
  const want = crashMessage(i);
  expect(q.message.properties).toEqual(want.properties);
  expect(q.message.systemProperties).toEqual(want.systemProperties);
  expect(q.message.enqueuedAt).toBe(want.enqueuedAt);
  expect(Buffer.from(q.message.body).equals(Buffer.from(want.body)), `body of message ${i} at offset ${q.offset}`).toBe(true);
}

describe('a store whose process is killed with SIGKILL', () => {
  it('keeps every append that resolved, intact, round after round', async () => {
    const file = join(root, 'killed.db');
    const everReported = new Map<number, number>();
    const rounds = 6;
    let killedMidStream = 0;
    for (let round = 0; round < rounds; round++) {
      const killAfterMs = 20 + Math.floor(Math.random() * 300);
      const { reported, signal, stderr } = await runAndKill(file, round * 1_000_000, killAfterMs);
      expect(stderr).toBe('');
      expect(signal).toBe('SIGKILL');
      if (reported.size > 0) killedMidStream++;
      for (const [offset, i] of reported) {
        expect(everReported.has(offset), `offset ${offset} reported twice`).toBe(false);
        everReported.set(offset, i);
      }

      const store = MessageStore.open(file);
      const upstream = readAll(store, '$upstream');
      const sink = readAll(store, '/modules/sink/inputs/in');
      // At-least-once: every reported append is there, exactly; more may be (committed, not yet printed).
      for (const [offset, i] of everReported) {
        const q = upstream.get(offset);
        expect(q, `reported offset ${offset} (message ${i}) is missing after round ${round}`).toBeDefined();
        expectExact(q!, i);
        expect(q!.priority).toBe(i % 3);
        expect(sink.has(offset)).toBe(true);
      }
      // Nothing half-written: every stored message is one the child made, whole, for both endpoints.
      expect([...sink.keys()].sort((a, b) => a - b)).toEqual([...upstream.keys()].sort((a, b) => a - b));
      for (const q of upstream.values()) expectExact(q, Number(q.message.properties.i));
      const stats = store.stats();
      expect(stats.messages).toBe(upstream.size);
      expect(stats.endpoints.map((e) => e.pending).sort()).toEqual([upstream.size, upstream.size]);
      process.stdout.write(`[store-crash] round ${round}: killed after ${killAfterMs} ms, ${reported.size} appends reported, ${upstream.size} stored in all\n`);
      store.close();

      const db = new Database(file, { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
    }
    // The kills really landed while appends were under way.
    expect(killedMidStream).toBeGreaterThanOrEqual(rounds - 1);
    expect(everReported.size).toBeGreaterThan(100);

    // The store goes on working after the kills.
    const store = MessageStore.open(file);
    const offset = await store.append(crashMessage(42), [{ endpoint: '$upstream', priority: 0 }]);
    expect(offset).toBeGreaterThan(Math.max(...everReported.keys()));
    store.close();
  });
});
