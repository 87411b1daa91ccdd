/**
 * A scoring service in its own process, for the SIGTERM test (run with vite-node from TypeScript sources).
 * Serves the fixture entry script (env FERRY_TEST_FIXTURE_DIR, made by makeServiceFixture), installs the
 * signal handlers the CLI uses, and prints one JSON line per event on stdout, the first `{"url": ...}`.
 */
import { join } from 'node:path';
import { startScoringServer } from '../../src/http/scoring-server.js';
import { installSignalHandlers } from '../../src/http/signal-handlers.js';
import type { ModelResolver } from '../../src/model-ref.js';
import { createScoringRuntime } from '../../src/runtime/index.js';

const dir = process.env.FERRY_TEST_FIXTURE_DIR;
if (!dir) throw new Error('FERRY_TEST_FIXTURE_DIR is not set');
const linear = join(dir, 'linear.onnx');
const resolver: ModelResolver = {
  resolveModel: (ref) => ({ name: ref.name, version: 1, id: `${ref.name}:1`, path: linear, kind: 'file', framework: 'onnx', onnxFile: linear, tags: {} }),
};
const print = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

const runtime = createScoringRuntime(
  { name: 'child-svc', models: ['linear:1'], entryScript: join(dir, 'score.mjs'), runtime: { workers: 2, maxQueue: 16 } },
  { resolver },
);
const server = await startScoringServer(runtime, {
  port: 0,
  auth: 'none',
  onEvent: (e) => print(e.type === 'request' ? { event: e.type, path: e.path, status: e.status, code: e.code } : { event: e.type }),
});
installSignalHandlers(server, { onSignal: (signal) => print({ event: 'signal', signal }) });
await runtime;
print({ url: server.url, pid: process.pid });
