/** Ports and child scripts for tests and benchmarks that run real processes. */
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { build } from 'esbuild';

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Bundles a TypeScript child-process script (a test fixture importing a package's sources) into one ESM
 * file `outfile` that `node` runs. Relative imports are bundled; packages stay imports, resolved to absolute
 * paths from `packageJson`'s folder (the child then loads exactly the dependencies that package has).
 */
export async function bundleChildScript(entry: string, outfile: string, packageJson: string): Promise<string> {
  const requireFromPackage = createRequire(packageJson);
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    plugins: [{
      name: 'absolute-packages',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('node:')
          ? { path: args.path, external: true }
          : { path: requireFromPackage.resolve(args.path), external: true }));
      },
    }],
  });
  return outfile;
}
