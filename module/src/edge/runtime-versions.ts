/** The versions the module reports (issue 4 §3 reported `versions`): Ferry's and onnxruntime's. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface RuntimeVersions {
  ferry: string;
  onnxruntime: string;
}

let cached: RuntimeVersions | undefined;

/** Read from the package.json files (the onnxruntime binding itself is not loaded on the main thread). */
export function runtimeVersions(): RuntimeVersions {
  cached ??= {
    ferry: versionOf(() => readFileSync(new URL('../../package.json', import.meta.url), 'utf8')),
    onnxruntime: versionOf(() => {
      const main = createRequire(import.meta.url).resolve('onnxruntime-node');
      // .../onnxruntime-node/dist/index.js -> .../onnxruntime-node/package.json
      return readFileSync(join(dirname(dirname(main)), 'package.json'), 'utf8');
    }),
  };
  return cached;
}

function versionOf(read: () => string): string {
  try {
    const v = (JSON.parse(read()) as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}
