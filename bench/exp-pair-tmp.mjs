import { ModelRegistry, startServeProcess } from '@ferry/builder';
import { FERRY_BIN, thirdPartyModels } from '@ferry/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLoad } from './dist/load-generator.js';
import { RawSession } from './dist/raw-session.js';
const [which, conc, ...configs] = process.argv.slice(2);
const ws = mkdtempSync(join(tmpdir(), 'exp-'));
const reg = ModelRegistry.open(ws);
const m = thirdPartyModels();
const path = which === 'det' ? m.ocrDet : m.ocrCls;
const rec = await reg.register(path, { name: which });
reg.close();
const dims = which === 'det' ? [1,3,320,320] : [1,3,48,192];
const data = new Float32Array(dims.reduce((a,b)=>a*b,1)).map((_, i) => Math.sin(i));
const body = Buffer.from(data.buffer);
const headers = { 'x-ferry-shape': dims.join(','), 'content-type': 'application/octet-stream', ...(which === 'det' ? { accept: 'application/octet-stream' } : {}) };
const raw = await RawSession.open(path, { x: { dims, data } });
const dur = which === 'det' ? 3000 : 2000;
for (const cfgText of configs) {
  const [rt, env] = cfgText.split('|');
  const cfg = join(ws, `f${Math.random()}.yaml`);
  writeFileSync(cfg, `models: [${rec.id}]\nruntime: ${rt}\n`);
  const serve = await startServeProcess({ command: [process.execPath, FERRY_BIN, '--workspace', ws, 'serve', cfg, '--auth', 'none'], env: env ? Object.fromEntries([env.split('=')]) : {} });
  const out = [];
  for (let r = 0; r < 3; r++) {
    const a = await raw.measure(dur / 2); const l = await generateLoad({ url: serve.url, key: 'x', body, headers, concurrency: Number(conc), durationMs: dur, scratch: ws }); const b = await raw.measure(dur / 2);
    out.push(`ratio ${(l.qps / ((a.runsPerSec + b.runsPerSec) / 2)).toFixed(2)} dp50 ${(l.p50Ms - (a.p50Ms + b.p50Ms) / 2).toFixed(2)}`);
  }
  console.log(which, `c=${conc}`, cfgText.padEnd(30), out.join(' | '));
  await serve.stop();
}
await raw.close();
