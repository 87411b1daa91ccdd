/**
 * Graceful stop on SIGTERM (what `docker stop` and IoT Edge send) and SIGINT (Ctrl-C): drain the server,
 * then exit 0. A second signal during the drain exits 1 at once.
 */
import type { ScoringServer } from './scoring-server.js';

export interface SignalHandlerOptions {
  /** Called with the exit code once the drain is over (default: process.exit). */
  onExit?: (code: number) => void;
  /** How long in-flight requests may take before connections are cut (default 30 s). */
  graceMs?: number;
  /** Told which signal started the drain, for the caller's log. */
  onSignal?: (signal: NodeJS.Signals) => void;
  signals?: readonly NodeJS.Signals[];
}

/** Installs the handlers; returns a function that removes them. */
export function installSignalHandlers(server: ScoringServer, opts: SignalHandlerOptions = {}): () => void {
  const onExit = opts.onExit ?? ((code: number) => process.exit(code));
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  let draining = false;
  const handler = (signal: NodeJS.Signals): void => {
    opts.onSignal?.(signal);
    if (draining) {
      onExit(1);
      return;
    }
    draining = true;
    const closing = opts.graceMs === undefined ? server.close() : server.close({ graceMs: opts.graceMs });
    closing.then(
      () => onExit(0),
      () => onExit(1),
    );
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}
