import { ModelRegistry, resolveWorkspace } from '@ferry/builder';
import type { Command } from 'commander';
import { createOutput, reportError, type Output } from './output.js';

/** What every command action gets: the global options, the output and the workspace's registry. */
export interface CommandContext {
  readonly out: Output;
  readonly workspace: string;
  /** Opens the workspace's registry on first use; closed when the command ends. */
  registry(): ModelRegistry;
}

export interface GlobalOptions {
  workspace?: string;
  json?: boolean;
}

/**
 * Wraps a command action: builds its context from the global options, runs it, and turns any
 * error into a printed message and exit status. Commander passes (args..., options, command).
 */
export function action<A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => Promise<void> | void) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const globals = command.optsWithGlobals<GlobalOptions>();
    const out = createOutput(Boolean(globals.json));
    let registry: ModelRegistry | undefined;
    const ctx: CommandContext = {
      out,
      workspace: resolveWorkspace(globals.workspace),
      registry: () => (registry ??= ModelRegistry.open(ctx.workspace)),
    };
    try {
      await fn(ctx, ...(args.slice(0, -1) as A));
    } catch (e) {
      process.exitCode = reportError(e, out.json);
    } finally {
      registry?.close();
    }
  };
}

/** Collects repeatable `--opt k=v` options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
