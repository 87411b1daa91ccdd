import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/terminate-during-run.mjs', import.meta.url));

describe('replacing a worker that is inside onnxruntime', () => {
  it('waits for the native run to end instead of aborting the process', async () => {
    const child = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(stderr).not.toContain('terminate called');
    expect(code, stderr).toBe(0);
    const codes = JSON.parse(stdout) as Record<string, number>;
    // Every request was answered, and the ones past the 5 ms timeout with the timeout code.
    expect(Object.values(codes).reduce((a, b) => a + b, 0)).toBe(12);
    expect(codes['FERRY_E_SCORING_TIMEOUT'] ?? 0).toBeGreaterThan(0);
  }, 60_000);
});
