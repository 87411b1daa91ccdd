import { writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOnnxModel } from '@ferry/module';
import { ScoringClient, scoreBatch } from '@ferry/builder';
const dir = mkdtempSync(join(tmpdir(), 'ferry-measure-'));
const modelPath = join(dir, 'scale.onnx');
writeFileSync(modelPath, buildOnnxModel({ inputs: [{ name: 'x', elementType: 'float32', shape: ['batch', 4] }], outputs: [{ name: 'y', elementType: 'float32', shape: ['batch', 4] }], initializers: [{ name: 'w', elementType: 'float32', dims: [4], data: [1, 2, 3, 4] }], nodes: [{ opType: 'Mul', inputs: ['x', 'w'], outputs: ['y'] }] }));
const child = spawn(process.execPath, ['builder/test/profiler-serve-fixture.mjs', modelPath, '--port', '18933'], { stdio: 'inherit' });
const client = new ScoringClient({ url: 'http://127.0.0.1:18933' });
while (!(await client.ready())) await new Promise((r) => setTimeout(r, 20));
const N = 5000;
const lines = Array.from({ length: N }, (_, i) => JSON.stringify({ x: [[i, 1, 2, 3]] }));
writeFileSync(join(dir, 'in.jsonl'), lines.join('\n') + '\n');
const P = [], B = [];
for (let round = 0; round < 4; round++) {
  let t = performance.now(); let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => { while (next < N) { const l = lines[next++]; await client.score(Buffer.from(l), { contentType: 'application/json' }); } }));
  P.push(N / ((performance.now() - t) / 1000));
  rmSync(join(dir, 'out.jsonl'), { force: true });
  t = performance.now();
  await scoreBatch({ client, input: join(dir, 'in.jsonl'), output: join(dir, 'out.jsonl'), concurrency: 4 });
  B.push(N / ((performance.now() - t) / 1000));
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log('plain', P.map((x) => x.toFixed(0)).join(' '), 'batch', B.map((x) => x.toFixed(0)).join(' '), 'median ratio', (med(B) / med(P)).toFixed(2));
client.close(); child.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });
