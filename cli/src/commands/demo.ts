import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { ScoringClient, formatProfileTable, profile } from '@ferry/builder';
import { ServiceKeys } from '@ferry/module';
import { action, type CommandContext } from '../context.js';
import { ferryCommand } from '../cli-path.js';
import { cliError } from '../errors.js';
import { IRIS_CLASSES, IRIS_SAMPLES, buildIrisModel } from '../demo/demo-model.js';
import { parseDuration } from './score.js';

const DEMO_MODEL = 'iris-demo';

/** `ferry demo`: the Quick start. Register a model Ferry makes itself, serve it, score samples, profile it. */
export function registerDemoCommand(program: Command): void {
  program.command('demo')
    .description('register a small model made by Ferry, serve it, score sample requests and profile it')
    .option('--duration <time>', 'profiling time per concurrency level', '2s')
    .option('--no-profile', 'skip the profile')
    .action(action(async (ctx, opts: { duration: string; profile: boolean }) => {
      const durationMs = parseDuration(opts.duration);
      const summary = await runDemo(ctx, { durationMs, profile: opts.profile });
      ctx.out.result(summary, () => '');
    }));
}

interface DemoSummary {
  model: string;
  config: string;
  url: string;
  answers: Array<{ request: unknown; answer: unknown; label: string }>;
  profile: unknown;
}

async function runDemo(ctx: CommandContext, opts: { durationMs: number; profile: boolean }): Promise<DemoSummary> {
  const dir = join(ctx.workspace, 'demo');
  mkdirSync(dir, { recursive: true });
  const modelFile = join(dir, 'iris.onnx');
  writeFileSync(modelFile, buildIrisModel());

  // 1. Register.
  const record = await ctx.registry().register(modelFile, {
    name: DEMO_MODEL,
    description: 'Nearest-centroid iris classifier made by ferry demo',
    tags: { demo: 'true', task: 'classification' },
    properties: { dataset: 'iris (Fisher, 1936)' },
  });
  ctx.out.say(`1. Registered ${record.id} (${record.onnx?.inputs.map((i) => `${i.name}: ${i.elementType}[${(i.shape ?? []).join(', ')}]`).join(', ')})`);

  // 2. Describe scoring: no code, the ONNX signature plus a sample.
  const configPath = join(dir, 'ferry.yaml');
  writeFileSync(configPath, [
    '# Written by `ferry demo`: serve the demo model in no-code mode.',
    `name: ${DEMO_MODEL}`,
    'models:',
    `  - ${record.id}`,
    `inputSample: ${JSON.stringify(IRIS_SAMPLES[0])}`,
    'runtime:',
    '  maxBatchSize: 8',
    '',
  ].join('\n'));
  ctx.out.say(`2. Wrote the inference config ${configPath}`);

  // 3. Serve it as a real process, and score the samples over HTTP.
  const key = ServiceKeys.open(ctx.workspace, DEMO_MODEL).primary;
  const serve = await startServe(ferryCommand(ctx.workspace, 'serve', configPath, '--port', '0'));
  ctx.out.say(`3. Serving at ${serve.url} (key auth; \`ferry keys show ${configPath}\` prints the keys)`);
  const answers: DemoSummary['answers'] = [];
  const client = new ScoringClient({ url: serve.url, key });
  try {
    for (const request of IRIS_SAMPLES) {
      const { body } = await client.score(request);
      const answer = body as { probabilities: number[][]; label: Array<number | string> };
      const label = IRIS_CLASSES[Number(answer.label[0])] ?? String(answer.label[0]);
      answers.push({ request, answer, label });
      const probs = (answer.probabilities[0] ?? []).map((p) => p.toFixed(3)).join(', ');
      ctx.out.say(`   POST /score ${JSON.stringify(request)} -> ${label} (probabilities ${probs})`);
    }
  } finally {
    client.close();
    await serve.stop();
  }

  // 4. Profile a fresh `ferry serve` process.
  let report: unknown = null;
  if (opts.profile) {
    ctx.out.say(`4. Profiling (${opts.durationMs / 1000}s per concurrency level)...`);
    const r = await profile({
      serve: { command: ferryCommand(ctx.workspace, 'serve', configPath), key },
      requests: IRIS_SAMPLES,
      durationMs: opts.durationMs,
      concurrency: [1, 4],
      warmupMs: 300,
    });
    report = r;
    ctx.out.say(formatProfileTable(r));
  }
  ctx.out.say(`Next: \`ferry model list\`, \`ferry serve ${configPath}\`, \`ferry score ${configPath} --data '${JSON.stringify(IRIS_SAMPLES[1])}'\``);
  return { model: record.id, config: configPath, url: serve.url, answers, profile: report };
}

/** Starts `ferry serve --port 0`; resolves with its URL once it logged that its models are loaded. */
async function startServe(command: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const [node, ...args] = command as [string, ...string[]];
  const child = spawn(node, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    let listening: string | undefined;
    let ready = false;
    lines.on('line', (line) => {
      try {
        const event = JSON.parse(line) as { url?: string; msg?: string };
        if (event.url && event.msg?.startsWith('serving')) listening = event.url;
        if (event.msg === 'ready') ready = true;
        if (listening !== undefined && ready) resolve(listening);
      } catch { /* not a log line */ }
    });
    void exited.then((code) => reject(cliError('FERRY_E_SERVICE_NOT_RUNNING', `ferry serve exited with status ${code} before listening: ${stderr.trim()}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
