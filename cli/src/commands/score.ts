import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ScoringClient, formatProfileTable, profile, profileTags, scoreBatch, type BatchProgress } from '@ferry/builder';
import { ServiceKeys, parseModelRef } from '@ferry/module';
import { action, type CommandContext } from '../context.js';
import { ferryCommand } from '../cli-path.js';
import { cliError } from '../errors.js';
import { resolveServiceTarget, runningService } from '../service-target.js';
import { integerOption } from './serve.js';

/** `ferry score` and `ferry profile` */
export function registerScoreCommands(program: Command): void {
  program.command('score <target>')
    .description('score a request (or a JSON Lines batch) against a service URL, or the running service of a config or model')
    .option('--data <json>', 'the request body as JSON, e.g. \'{"data": [[1, 2, 3, 4]]}\'')
    .option('--file <path>', 'a file holding the JSON request body')
    .option('--bytes <path>', 'a file sent as raw bytes (application/octet-stream) to a single-input model')
    .option('--shape <dims>', 'the tensor shape of --bytes when the model leaves more than one dimension open, e.g. 1,3,48,192')
    .option('--key <key>', 'the service key (default: $FERRY_SCORE_KEY, or the workspace keys of a config or model)')
    .option('--batch <in.jsonl>', 'score every line of a JSON Lines file (resumable)')
    .option('--out <out.jsonl>', 'where --batch writes {"line": n, "result": ...} lines')
    .option('--errors <path>', 'where --batch writes failed lines (default: <out>.errors.jsonl)')
    .option('--concurrency <n>', 'requests in flight at once with --batch', '4')
    .action(action(async (ctx, target: string, opts: ScoreOptions) => {
      const { url, key } = await serviceEndpoint(ctx, target, opts.key);
      if (opts.shape !== undefined && !/^\d+(,\d+)*$/.test(opts.shape)) throw cliError('FERRY_E_USAGE', `--shape takes comma-separated sizes like 1,3,48,192, not "${opts.shape}"`);
      const client = new ScoringClient({ url, ...(key ? { key } : {}), ...(opts.shape !== undefined ? { headers: { 'x-ferry-shape': opts.shape } } : {}) });
      try {
        if (opts.batch !== undefined) await runBatch(ctx, client, opts);
        else {
          const body = requestBody(opts);
          const answer = await client.score(body);
          ctx.out.result(answer.body, () => JSON.stringify(answer.body, null, 2));
        }
      } finally {
        client.close();
      }
    }));

  program.command('profile <target>')
    .description('measure latency, throughput, CPU and memory of a real `ferry serve` process and recommend resources')
    .option('--data <sample.json>', 'a file holding one request body to send repeatedly')
    .option('--batch <in.jsonl>', 'a JSON Lines file of request bodies to send in turn')
    .option('--duration <time>', 'measuring time per concurrency level (e.g. 30s, 500ms, 2m)', '30s')
    .option('--concurrency <list>', 'comma-separated concurrency levels', '1,2,4,8')
    .option('--save', 'store the recommendation as tags on the served model(s)')
    .action(action(async (ctx, target: string, opts: { data?: string; batch?: string; duration: string; concurrency: string; save?: boolean }) => {
      if ((opts.data === undefined) === (opts.batch === undefined)) throw cliError('FERRY_E_USAGE', 'profile takes exactly one of --data <sample.json> or --batch <in.jsonl>');
      const requests = opts.data !== undefined ? [readJson(opts.data)] : readJsonLines(opts.batch as string);
      const concurrency = opts.concurrency.split(',').map((c) => integerOption(c.trim(), '--concurrency', 1, 1024));
      const { config, argument } = await resolveServiceTarget(target);
      const keys = ServiceKeys.open(ctx.workspace, config.name);
      ctx.out.info(`Profiling ${config.name} at concurrency ${concurrency.join(', ')}, ${opts.duration} each...`);
      const report = await profile({
        serve: { command: ferryCommand(ctx.workspace, 'serve', argument, '--auth', 'key'), key: keys.primary },
        requests,
        durationMs: parseDuration(opts.duration),
        concurrency,
        onProgress: (p) => {
          if (!ctx.out.json && process.stderr.isTTY && p.concurrency !== null) {
            process.stderr.write(`\r  concurrency ${p.concurrency}: ${p.phase} ${(p.elapsedMs / 1000).toFixed(1)}s, ${p.successful} ok   `);
          }
        },
      });
      if (!ctx.out.json && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      if (opts.save) {
        const tags = profileTags(report);
        const registry = ctx.registry();
        for (const ref of config.models) registry.update(registry.get(parseModelRef(ref)).id, { addTags: tags });
      }
      ctx.out.result(report, () => formatProfileTable(report) + (opts.save ? `Saved the recommendation as tags on ${config.models.join(', ')}.\n` : ''));
    }));
}

interface ScoreOptions {
  data?: string;
  file?: string;
  bytes?: string;
  shape?: string;
  key?: string;
  batch?: string;
  out?: string;
  errors?: string;
  concurrency: string;
}

async function serviceEndpoint(ctx: CommandContext, target: string, key: string | undefined): Promise<{ url: string; key?: string }> {
  if (/^https?:\/\//i.test(target)) {
    const k = key ?? process.env['FERRY_SCORE_KEY'];
    return { url: target, ...(k ? { key: k } : {}) };
  }
  const { config } = await resolveServiceTarget(target);
  const service = runningService(ctx.workspace, config.name);
  if (key) return { url: service.url, key };
  return service.auth === 'key' ? { url: service.url, key: ServiceKeys.open(ctx.workspace, config.name).primary } : { url: service.url };
}

function requestBody(opts: ScoreOptions): unknown {
  const given = [opts.data, opts.file, opts.bytes].filter((v) => v !== undefined).length;
  if (given !== 1) throw cliError('FERRY_E_USAGE', 'score takes exactly one of --data <json>, --file <path>, --bytes <path> or --batch <in.jsonl>');
  if (opts.data !== undefined) return parseJson(opts.data, '--data');
  if (opts.file !== undefined) return readJson(opts.file);
  return readFile(opts.bytes as string);
}

async function runBatch(ctx: CommandContext, client: ScoringClient, opts: ScoreOptions): Promise<void> {
  if (opts.out === undefined) throw cliError('FERRY_E_USAGE', '--batch needs --out <out.jsonl>');
  const tty = !ctx.out.json && process.stderr.isTTY;
  const summary = await scoreBatch({
    client,
    input: opts.batch as string,
    output: opts.out,
    ...(opts.errors !== undefined ? { errors: opts.errors } : {}),
    concurrency: integerOption(opts.concurrency, '--concurrency', 1, 1024),
    ...(tty ? { onProgress: (p: BatchProgress) => process.stderr.write(`\r${progressBar(p)}`) } : {}),
  });
  if (tty) process.stderr.write('\n');
  ctx.out.result(summary, () => [
    `Scored ${summary.scored} of ${summary.total} lines (${summary.skipped} already done, ${summary.failed} failed) in ${(summary.elapsedMs / 1000).toFixed(1)} s, ${summary.ratePerSec.toFixed(1)} lines/s.`,
    `Results: ${summary.output}`,
    ...(summary.failed > 0 ? [`Failed lines: ${summary.errors}`] : []),
  ].join('\n'));
  if (summary.failed > 0) process.exitCode = 1;
}

/** `[#####.....]  50%  500/1000  123.4/s  ETA 4s` */
export function progressBar(p: BatchProgress, width = 30): string {
  const fraction = p.total === 0 ? 1 : p.done / p.total;
  const filled = Math.round(fraction * width);
  const eta = p.etaSec === null ? '--' : `${Math.ceil(p.etaSec)}s`;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${p.done}/${p.total}  ${p.ratePerSec.toFixed(1)}/s  ETA ${eta}  failed ${p.failed}`;
}

/** `30s`, `500ms`, `2m`, or a bare number of seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw cliError('FERRY_E_USAGE', `"${text}" is not a duration: write e.g. 30s, 500ms or 2m`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms < 100) throw cliError('FERRY_E_USAGE', `--duration ${text} is too short: give at least 100ms`);
  return ms;
}

function readFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw cliError('FERRY_E_INPUT_UNREADABLE', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw cliError('FERRY_E_INPUT_UNREADABLE', `${what} is not JSON: ${(e as Error).message}`, { cause: e });
  }
}

function readJson(path: string): unknown {
  return parseJson(readFile(path).toString('utf8'), path);
}

function readJsonLines(path: string): unknown[] {
  const lines = readFile(path).toString('utf8').split('\n').map((l, i) => [l, i + 1] as const).filter(([l]) => l.trim() !== '');
  if (lines.length === 0) throw cliError('FERRY_E_INPUT_UNREADABLE', `${path} holds no request lines`);
  return lines.map(([l, n]) => parseJson(l, `${path} line ${n}`));
}
