/**
 * The first half of a registration, done outside anything visible: copy the source into a private
 * staging folder while hashing it, read ONNX signatures from the copies, and move the contents into
 * the blob store (the staged files become hard links to the blobs). The registry then makes the
 * staged tree visible in one transaction (ModelRegistry.register).
 *
 * Staging folders are named `<pid>-<random>` so a later registration can remove those whose process
 * died (`removeStaleStaging`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, relative, sep, isAbsolute } from 'node:path';
import type { OnnxModelInfo } from '@ferry/module';
import { registryError } from '../errors.js';
import { copyAndHash } from './hashing-copy.js';
import type { BlobStore } from './blob-store.js';
import type { ModelFile, ModelFramework, ModelKind } from './model-record.js';
import { choosePrimary, isOnnxFileName, readSignature } from './onnx-signatures.js';
import { scanSource } from './source-scan.js';
import { isProcessAlive } from '../workspace.js';

export interface StagedFile extends ModelFile {
  /** Absolute path of the staged copy (a link to the blob). */
  staged: string;
}

export interface StagedModel {
  /** The staging folder; remove it when done. */
  dir: string;
  /** `<dir>/tree`: renamed to `<ws>/models/<name>/<version>` at commit. */
  tree: string;
  kind: ModelKind;
  entry: string;
  framework: ModelFramework;
  /** Sorted by path bytes. */
  files: StagedFile[];
  onnxFiles: Record<string, OnnxModelInfo>;
  primaryOnnx: string | undefined;
  size: number;
  sha256: string;
}

/** `createdBlobs` collects the blobs this registration created, to remove again if it fails. */
export async function stageModel(
  stagingRoot: string, blobs: BlobStore, source: string, framework: ModelFramework | undefined, createdBlobs: string[],
): Promise<StagedModel> {
  const scanned = await scanSource(source);
  const dir = join(stagingRoot, `${process.pid}-${randomBytes(8).toString('hex')}`);
  const tree = join(dir, 'tree');
  const staged: StagedModel = {
    dir, tree, kind: scanned.kind, entry: scanned.entry, framework: 'custom', files: [], onnxFiles: {},
    primaryOnnx: undefined, size: 0, sha256: '',
  };
  try {
    await mkdir(tree, { recursive: true });
    for (const file of scanned.files) {
      const to = scanned.kind === 'file' ? join(tree, file.rel) : join(tree, scanned.entry, ...file.rel.split('/'));
      const inside = relative(tree, to);
      if (inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
        throw registryError('FERRY_E_MODEL_PATH_UNSAFE', `${file.rel} would be stored outside the model's folder`, { details: { path: file.rel } });
      }
      await mkdir(dirname(to), { recursive: true });
      let hashed;
      try {
        hashed = await copyAndHash(file.abs, to);
      } catch (cause) {
        const err = cause as NodeJS.ErrnoException;
        if (err.path === file.abs || err.code === 'EACCES' || err.code === 'EISDIR') {
          throw registryError('FERRY_E_MODEL_SOURCE_UNREADABLE', `Reading ${file.abs} failed: ${err.message}`, { cause, details: { path: file.abs } });
        }
        throw registryError('FERRY_E_REGISTRY_IO', `Copying ${file.abs} into the registry failed: ${err.message}`, { cause });
      }
      staged.files.push({ path: file.rel, size: hashed.size, sha256: hashed.sha256, staged: to });
      staged.size += hashed.size;
    }
    staged.files.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
    staged.sha256 = listingDigest(staged.files);

    const onnxPaths = onnxCandidates(staged, framework);
    staged.framework = framework ?? (onnxPaths.length > 0 ? 'onnx' : 'custom');
    if (staged.framework === 'onnx') {
      if (onnxPaths.length === 0) {
        throw registryError('FERRY_E_MODEL_INVALID', `The folder ${scanned.entry} holds no .onnx file, so it cannot be registered as an ONNX model`);
      }
      for (const path of onnxPaths) {
        const file = staged.files.find((f) => f.path === path) as StagedFile;
        staged.onnxFiles[path] = await readSignature(file.staged, scanned.kind === 'file' ? path : `${scanned.entry}/${path}`);
      }
      staged.primaryOnnx = choosePrimary(onnxPaths);
    }

    for (const file of staged.files) {
      try {
        if (blobs.adopt(file.staged, file.sha256, file.size)) createdBlobs.push(file.sha256);
      } catch (cause) {
        throw registryError('FERRY_E_REGISTRY_IO', `Storing ${file.path} in the blob store failed: ${(cause as Error).message}`, { cause });
      }
    }
    return staged;
  } catch (e) {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}

/** `sha256sum`-style listing of the files, hashed: the model's digest. */
export function listingDigest(files: readonly ModelFile[]): string {
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f.sha256}  ${f.path}\n`);
  return hash.digest('hex');
}

function onnxCandidates(staged: StagedModel, framework: ModelFramework | undefined): string[] {
  if (framework === 'custom') return [];
  // A one-file model registered as ONNX is parsed whatever its name.
  if (staged.kind === 'file' && framework === 'onnx') return staged.files.map((f) => f.path);
  return staged.files.filter((f) => isOnnxFileName(f.path)).map((f) => f.path);
}

/** Removes staging folders whose registering process no longer runs. Best effort. */
export async function removeStaleStaging(stagingRoot: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(stagingRoot);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || isProcessAlive(pid)) continue;
    await rm(join(stagingRoot, name), { recursive: true, force: true }).catch(() => undefined);
    removed++;
  }
  return removed;
}
