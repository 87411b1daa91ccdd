/**
 * Where the worker thread script is. Built code (dist/) has scoring-worker.js next to this file.
 * Run from TypeScript sources (vitest), the worker is bundled once per process with esbuild into a
 * temporary .mjs whose package imports point at absolute paths, since worker threads load plain JS.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

let bundled: Promise<URL> | undefined;

export function workerScriptUrl(): Promise<URL> {
  const here = new URL(import.meta.url);
  const built = new URL('./scoring-worker.js', here);
  if (!here.pathname.endsWith('.ts') && existsSync(fileURLToPath(built))) return Promise.resolve(built);
  bundled ??= bundleFromSources(fileURLToPath(new URL('./scoring-worker.ts', here)));
  return bundled;
}

async function bundleFromSources(entry: string): Promise<URL> {
  const esbuild = await import('esbuild');
  const require = createRequire(entry);
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    sourcemap: 'inline',
    logLevel: 'silent',
    plugins: [{
      name: 'absolute-packages',
      setup(build) {
        build.onResolve({ filter: /^[^./]/ }, (args) => {
          if (args.path.startsWith('node:')) return { path: args.path, external: true };
          return { path: pathToFileURL(require.resolve(args.path)).href, external: true };
        });
      },
    }],
  });
  const code = (result.outputFiles[0] as { text: string }).text;
  const dir = join(tmpdir(), 'ferry-worker-bundles');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `scoring-worker-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, code);
    await rename(tmp, file);
  }
  return pathToFileURL(file);
}
