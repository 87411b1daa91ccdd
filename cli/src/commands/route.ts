import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { compileCondition, compileRoute, isFerryError, isRouteText, parseRouteMessageText, type RouteMessage } from '@ferry/deployment-manifests';
import { action } from '../context.js';
import { cliError } from '../errors.js';
import { reportError } from '../output.js';

/** `ferry route test` */
export function registerRouteCommands(program: Command): void {
  const route = program.command('route').description('work with IoT Edge routes and conditions');
  route.command('test <route>')
    .description('evaluate a route (FROM ... INTO ...) or a bare condition against messages; prints {"result", "sink"} per message as JSON lines')
    .option('--message <m.json>', 'a JSON file holding one message {"properties", "systemProperties", "body"}')
    .option('--messages <m.jsonl>', 'a JSON Lines file, one message per line')
    .action(action((ctx, text: string, opts: { message?: string; messages?: string }) => {
      if ((opts.message === undefined) === (opts.messages === undefined)) throw cliError('FERRY_E_USAGE', 'route test takes exactly one of --message <m.json> or --messages <m.jsonl>');
      let evaluate: (m: RouteMessage) => { result: string; sink: string | null };
      try {
        if (isRouteText(text)) {
          const compiled = compileRoute(text);
          evaluate = (m) => {
            const result = compiled.evaluate(m);
            return { result, sink: result === 'true' ? compiled.endpoint : null };
          };
        } else {
          const compiled = compileCondition(text);
          evaluate = (m) => ({ result: compiled.evaluate(m), sink: null });
        }
      } catch (e) {
        // a route that does not compile is a usage error: exit 2, with line and column
        if (isFerryError(e) && e.code === 'FERRY_E_ROUTE_INVALID') {
          reportError(e, ctx.out.json);
          process.exitCode = 2;
          return;
        }
        throw e;
      }
      const messages = opts.message !== undefined ? readMessages(opts.message, false) : readMessages(opts.messages as string, true);
      process.stdout.write(messages.map((m) => `${JSON.stringify(evaluate(m))}\n`).join(''));
    }));
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw cliError('FERRY_E_INPUT_UNREADABLE', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function readMessages(path: string, lines: boolean): RouteMessage[] {
  const text = readText(path);
  if (!lines) return [parseRouteMessageText(text, path)];
  const out: RouteMessage[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() !== '') out.push(parseRouteMessageText(line, `${path} line ${i + 1}`));
  });
  return out;
}
