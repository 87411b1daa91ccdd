import type { Command } from 'commander';
import { action } from '../context.js';
import { cliError } from '../errors.js';
import { assertComplete, formatSummary, runQuickstart } from '../quickstart/run-quickstart.js';
import { integerOption } from './serve.js';

/**
 * `ferry quickstart` (issue 4 §5): the README's first command. Sample anomaly model -> deployment with the
 * sensor and scorer modules -> offline simulation -> scored results at the local IoT Hub -> summary. Exit
 * status 0 only when every sent message was scored and reached upstream.
 */
export function registerQuickstartCommand(program: Command): void {
  program.command('quickstart')
    .description('run the edge pipeline offline: register a sample anomaly model, deploy a simulated sensor and the scorer module to a simulated device, print scored results as they reach the local IoT Hub, then a summary (no Docker, no cloud)')
    .option('--messages <n>', 'readings the sensor sends', '200')
    .option('--rate <n>', 'readings per second (0: as fast as the pipeline takes them)', '50')
    .option('--seed <n>', "the sensor's random seed (the same seed sends the same readings)", '1')
    .option('--timeout <secs>', 'give up after this many seconds (default: 60 plus the sending time)')
    .option('--no-dashboard', 'serve no dashboard page while it runs')
    .action(action(async (ctx, opts: { messages: string; rate: string; seed: string; timeout?: string; dashboard: boolean }) => {
      const messages = integerOption(opts.messages, '--messages', 1, 10_000_000);
      const rate = Number(opts.rate);
      if (!/^\d+(\.\d+)?$/.test(opts.rate) || !(rate >= 0 && rate <= 100_000)) throw cliError('FERRY_E_USAGE', `--rate must be a number from 0 to 100000, not "${opts.rate}"`);
      const seed = integerOption(opts.seed, '--seed', 0, 2 ** 31 - 1);
      const sendingSecs = rate > 0 ? messages / rate : messages / 500;
      const timeoutMs = (opts.timeout === undefined ? 60 + Math.ceil(sendingSecs) : integerOption(opts.timeout, '--timeout', 1, 86_400)) * 1000;
      const abort = new AbortController();
      const onSignal = (signal: NodeJS.Signals): void => abort.abort(new Error(signal));
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      try {
        const summary = await runQuickstart(ctx, { messages, rate, seed, timeoutMs, dashboard: opts.dashboard, print: (line) => ctx.out.say(line), signal: abort.signal });
        ctx.out.result(summary, () => formatSummary(summary));
        assertComplete(summary);
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
    }));
}
