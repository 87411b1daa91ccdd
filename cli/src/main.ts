import { Command, CommanderError } from 'commander';
import { registerModelCommands } from './commands/model.js';
import { registerServeCommands } from './commands/serve.js';
import { registerScoreCommands } from './commands/score.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerRouteCommands } from './commands/route.js';
import { registerSimulateCommands } from './commands/simulate.js';
import { registerQuickstartCommand } from './commands/quickstart.js';
import { cliError } from './errors.js';
import { reportError } from './output.js';
import { FERRY_VERSION } from './version.js';

export function buildProgram(): Command {
  const program = new Command('ferry')
    .description('Take a trained ONNX model to Azure IoT Edge devices: register, serve, score, profile.')
    .version(FERRY_VERSION, '-V, --version')
    .option('--workspace <dir>', 'the workspace holding the model registry and service keys (default: $FERRY_HOME or ~/.ferry)')
    .option('--json', 'print machine-readable JSON instead of text')
    .showHelpAfterError()
    .exitOverride();
  program.configureOutput({ outputError: () => {} });
  registerModelCommands(program);
  registerServeCommands(program);
  registerScoreCommands(program);
  registerDemoCommand(program);
  registerRouteCommands(program);
  registerSimulateCommands(program);
  registerQuickstartCommand(program);
  for (const sub of program.commands) inheritExitOverride(sub);
  return program;
}

function inheritExitOverride(command: Command): void {
  command.exitOverride().configureOutput({ outputError: () => {} });
  for (const sub of command.commands) inheritExitOverride(sub);
}

/** Runs the CLI with the given arguments (without `node ferry`); resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      const json = argv.includes('--json');
      return reportError(cliError('FERRY_E_USAGE', e.message.replace(/^error: /, '')), json);
    }
    return reportError(e, argv.includes('--json'));
  }
}
