import type { Command } from 'commander';
import pino from 'pino';
import { ServiceKeys, createScoringRuntime, installSignalHandlers, startScoringServer, type ServiceKeyName } from '@ferry/module';
import { action } from '../context.js';
import { cliError } from '../errors.js';
import { resolveServiceTarget, writeServiceRecord } from '../service-target.js';

/** `ferry serve` and `ferry keys` */
export function registerServeCommands(program: Command): void {
  program.command('serve <target>')
    .description('serve an inference config, or a registered ONNX model (name[:version]) in no-code mode, over HTTP')
    .option('--port <port>', 'port to listen on (0 picks a free one)', '8890')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--auth <mode>', 'key (Authorization: Bearer <key>) or none', 'key')
    .option('--max-body <bytes>', 'largest request body accepted', String(10 * 1024 * 1024))
    .action(action(async (ctx, target: string, opts: { port: string; host: string; auth: string; maxBody: string }) => {
      const port = integerOption(opts.port, '--port', 0, 65535);
      const maxBodyBytes = integerOption(opts.maxBody, '--max-body', 1, 2 ** 31);
      if (opts.auth !== 'key' && opts.auth !== 'none') throw cliError('FERRY_E_USAGE', `--auth must be key or none, not "${opts.auth}"`);
      const { config } = await resolveServiceTarget(target);
      const log = pino({ name: 'ferry-serve', base: { service: config.name } }, pino.destination({ fd: 1, sync: true }));
      const keys = opts.auth === 'key' ? ServiceKeys.open(ctx.workspace, config.name) : undefined;
      const runtime = createScoringRuntime(config, { resolver: ctx.registry() });
      runtime.catch(() => {}); // reported through the server's load-failed event
      let loadFailure: unknown;
      const server = await startScoringServer(runtime, {
        host: opts.host,
        port,
        auth: opts.auth,
        maxBodyBytes,
        ...(keys ? { keys } : {}),
        onEvent: (e) => {
          if (e.type === 'request') {
            const { type: _type, error, ...fields } = e;
            const level = e.status >= 500 ? 'error' : e.status >= 400 ? 'warn' : 'info';
            log[level]({ ...fields, ...(error ? { err: error } : {}) }, 'request');
          } else if (e.type === 'load-failed') {
            loadFailure = e.error;
            log.error({ code: e.error.code, err: e.error }, 'loading the models failed');
          } else {
            log.info(e, e.type);
          }
        },
      });
      const removeRecord = writeServiceRecord(ctx.workspace, { name: config.name, url: server.url, pid: process.pid, auth: opts.auth, startedAt: new Date().toISOString() });
      log.info({ url: server.url, models: config.models, auth: opts.auth }, `serving ${config.name} at ${server.url}`);
      const exitCode = await new Promise<number>((resolve) => {
        installSignalHandlers(server, { onExit: resolve, onSignal: (signal) => log.info({ signal }, 'draining') });
        runtime.then(() => {}, async () => {
          // Nothing to serve: stop rather than answer 503 forever.
          await server.close({ graceMs: 0 });
          resolve(1);
        });
      });
      removeRecord();
      if (loadFailure !== undefined) throw loadFailure;
      process.exitCode = exitCode;
    }));

  const keys = program.command('keys').description("show or regenerate a scoring service's primary and secondary keys");
  keys.command('show <target>')
    .description('print the keys of the service of a config or model')
    .action(action(async (ctx, target: string) => {
      const { config } = await resolveServiceTarget(target);
      const k = ServiceKeys.open(ctx.workspace, config.name);
      const data = { service: config.name, primaryKey: k.primary, secondaryKey: k.secondary };
      ctx.out.result(data, () => `primary:   ${k.primary}\nsecondary: ${k.secondary}`);
    }));
  keys.command('regenerate <which> <target>')
    .description('replace the primary or the secondary key; a running service honours it within a second')
    .action(action(async (ctx, which: string, target: string) => {
      if (which !== 'primary' && which !== 'secondary') throw cliError('FERRY_E_USAGE', `keys regenerate takes primary or secondary, not "${which}"`);
      const { config } = await resolveServiceTarget(target);
      const k = ServiceKeys.open(ctx.workspace, config.name);
      k.regenerate(which as ServiceKeyName);
      const key = which === 'primary' ? k.primary : k.secondary;
      ctx.out.result({ service: config.name, [`${which}Key`]: key }, () => `${which}: ${key}`);
    }));
}

export function integerOption(text: string, name: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw cliError('FERRY_E_USAGE', `${name} must be an integer from ${min} to ${max}, not "${text}"`);
  return n;
}
