// A stand-in for `ferry serve <model>` used by the profiler tests: the REAL scoring service
// (startScoringServer + createScoringRuntime from @ferry/module) serving one ONNX file in no-code mode.
// Usage: node profiler-serve-fixture.mjs <model.onnx> --port P [--host H]
// Stops on SIGTERM like `ferry serve` (drain, exit 0).
import { basename } from 'node:path';
import { createScoringRuntime, installSignalHandlers, noCodeConfig, readOnnxModelFile, startScoringServer } from '@ferry/module';

const [modelFile, ...rest] = process.argv.slice(2);
const option = (name, fallback) => {
  const at = rest.indexOf(name);
  return at >= 0 ? rest[at + 1] : fallback;
};
const name = basename(modelFile).replace(/\.onnx$/, '').replace(/[^a-zA-Z0-9._-]/g, '-');
const onnx = await readOnnxModelFile(modelFile);
const resolver = {
  resolveModel: (ref) => ({ name: ref.name, version: 1, id: `${ref.name}:1`, path: modelFile, kind: 'file', framework: 'onnx', onnxFile: modelFile, onnx, tags: {} }),
};
const runtime = createScoringRuntime(noCodeConfig(`${name}:1`), { resolver });
const server = await startScoringServer(runtime, { port: Number(option('--port', '0')), host: option('--host', '127.0.0.1'), auth: 'none' });
installSignalHandlers(server);
