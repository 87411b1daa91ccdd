/**
 * Copying a registered model out of the workspace: `<outDir>/<file or folder name>`. Never writes
 * over something that exists unless asked; when asked, writes beside it and renames into place.
 */
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, link, lstat, mkdir, rename, rm, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { registryError } from '../errors.js';
import type { DownloadOptions, ModelRecord } from './model-record.js';

export async function downloadModel(record: ModelRecord, outDir: string, opts: DownloadOptions = {}): Promise<{ path: string }> {
  const dir = resolve(outDir);
  const entry = basename(record.path);
  const dest = join(dir, entry);
  const existing = await lstatOrUndefined(dest);
  if (existing && !opts.overwrite) throw exists(dest, record.id);

  const tmp = join(dir, `.${entry}.ferry-download-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(dir, { recursive: true });
    if (record.kind === 'file') {
      await copyOut(record.path, tmp);
    } else {
      await mkdir(tmp);
      for (const file of record.files) {
        const to = join(tmp, ...file.path.split('/'));
        await mkdir(dirname(to), { recursive: true });
        await copyOut(join(record.path, ...file.path.split('/')), to);
      }
    }
    if (!opts.overwrite) {
      await placeNew(tmp, dest, record);
    } else {
      await replace(tmp, dest, dir, entry, record.kind);
    }
    return { path: dest };
  } catch (cause) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (cause instanceof Error && 'code' in cause && String(cause.code).startsWith('FERRY_E_')) throw cause;
    throw registryError('FERRY_E_REGISTRY_IO', `Downloading ${record.id} to ${dest} failed: ${(cause as Error).message}`, { cause });
  }
}

async function copyOut(from: string, to: string): Promise<void> {
  await copyFile(from, to);
  await chmod(to, 0o644); // stored files are read-only; the user's copy is theirs to change
}

/** Without overwrite: a file is linked into place (fails if something appeared meanwhile). */
async function placeNew(tmp: string, dest: string, record: ModelRecord): Promise<void> {
  if (record.kind === 'file') {
    try {
      await link(tmp, dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw exists(dest, record.id);
      throw e;
    }
    await unlink(tmp);
    return;
  }
  if (await lstatOrUndefined(dest)) throw exists(dest, record.id);
  await rename(tmp, dest);
}

/** With overwrite: a file replaces a file in one rename; otherwise the old one is moved aside first. */
async function replace(tmp: string, dest: string, dir: string, entry: string, kind: ModelRecord['kind']): Promise<void> {
  const existing = await lstatOrUndefined(dest);
  if (!existing || (kind === 'file' && !existing.isDirectory())) {
    await rename(tmp, dest);
    return;
  }
  const aside = join(dir, `.${entry}.ferry-replaced-${randomBytes(6).toString('hex')}`);
  await rename(dest, aside);
  try {
    await rename(tmp, dest);
  } catch (e) {
    await rename(aside, dest).catch(() => undefined);
    throw e;
  }
  await rm(aside, { recursive: true, force: true });
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function exists(dest: string, id: string): Error {
  return registryError('FERRY_E_DOWNLOAD_EXISTS', `${dest} already exists; not writing ${id} over it`, { details: { path: dest } });
}
