/**
 * A real Docker engine for tests, and a tiny local base image: nothing can be pulled on these machines,
 * so the image is this machine's node binary plus the shared libraries `ldd` lists, imported from a
 * root filesystem tar (`POST /images/create?fromSrc=-`, what `docker import` does). It is tagged by the
 * node binary's version, size and mtime, so it is built once per engine and reused.
 * Without a reachable engine the tests skip with a reason, except under CI=true, where they fail.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type Docker from 'dockerode';
import { connectDockerEngine, locateDockerEngine } from '../src/launcher/container-engine.js';

export interface TestEngine {
  readonly docker: Docker;
  /** The engine's address as DOCKER_HOST gives it (for a launcher's baseEnv). */
  readonly dockerHost: string;
  /** `<repo>:<tag>` of the local node image; node is at /usr/bin/node. */
  readonly nodeImage: string;
}

/** The engine and the node image, or why the tests skip. Throws when CI=true and no engine answers. */
export async function testEngine(): Promise<TestEngine | { readonly skip: string }> {
  let docker: Docker;
  let dockerHost: string;
  try {
    const address = locateDockerEngine(process.env);
    docker = await connectDockerEngine(address);
    dockerHost = address.text;
  } catch (e) {
    const reason = `no Docker engine reachable: ${(e as Error).message}`;
    if (process.env.CI === 'true') throw new Error(`CI=true needs a Docker engine (.ci/run starts one): ${reason}`);
    console.log(`skipping the Docker tests: ${reason}`);
    return { skip: reason };
  }
  return { docker, dockerHost, nodeImage: await ensureNodeImage(docker) };
}

export async function ensureNodeImage(docker: Docker): Promise<string> {
  const node = realpathSync(process.execPath);
  const st = statSync(node);
  const tag = `${process.version}-${createHash('sha256').update(`${node}:${st.size}:${st.mtimeMs}`).digest('hex').slice(0, 8)}`;
  const image = `ferry-test-node:${tag}`;
  try {
    await docker.getImage(image).inspect();
    return image;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode !== 404) throw e;
  }
  const root = mkdtempSync(join(tmpdir(), 'ferry-node-rootfs-'));
  try {
    const place = (from: string, to: string): void => {
      mkdirSync(join(root, dirname(to)), { recursive: true });
      copyFileSync(from, join(root, to)); // follows symlinks: the image gets the files themselves
    };
    place(node, '/usr/bin/node');
    chmodSync(join(root, 'usr/bin/node'), 0o755);
    for (const lib of sharedLibraries(node)) place(lib, lib);
    mkdirSync(join(root, 'etc'), { recursive: true });
    // glibc without nsswitch.conf asks DNS before /etc/hosts; `localhost` must come from the hosts file.
    writeFileSync(join(root, 'etc/nsswitch.conf'), 'hosts: files dns\n');
    mkdirSync(join(root, 'tmp'));
    chmodSync(join(root, 'tmp'), 0o1777);
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [repo, version] = image.split(':');
    const progress = await docker.importImage(tar.stdout, { repo, tag: version });
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(progress, (err: Error | null) => (err ? reject(err) : resolve()));
    });
    await docker.getImage(image).inspect(); // the import really produced it
    return image;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Absolute paths of the libraries `ldd` resolves for `binary` (and the dynamic loader). */
function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  return [...new Set([...out.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1]).filter((p): p is string => p !== undefined))];
}
