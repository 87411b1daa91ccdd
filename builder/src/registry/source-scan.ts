/**
 * Walks what the user asks to register (one file or one folder) and lists the regular files to copy.
 * Refuses anything that could leave the folder or is not plain data: symbolic links that point
 * outside the folder, dangling or looping links, sockets, fifos and devices. Links inside the folder
 * are followed and stored as the files they point to.
 */
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import { registryError } from '../errors.js';
import type { ModelKind } from './model-record.js';

export interface SourceFile {
  /** '/'-separated, relative to the folder (a one-file model: the file name). */
  rel: string;
  /** Where to read it from (a link inside the folder: its target). */
  abs: string;
  size: number;
}

export interface ScannedSource {
  kind: ModelKind;
  /** File or folder name, kept in the store. */
  entry: string;
  files: SourceFile[];
}

export async function scanSource(source: string): Promise<ScannedSource> {
  if (typeof source !== 'string' || source === '') {
    throw registryError('FERRY_E_MODEL_SOURCE_NOT_FOUND', 'No path to register was given');
  }
  const abs = resolve(source);
  const entry = basename(abs);
  // The source itself may be a link: the user named it, so follow it.
  let st: Stats;
  try {
    st = await stat(abs);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') {
      throw registryError('FERRY_E_MODEL_SOURCE_NOT_FOUND', `${abs} does not exist`, { cause, details: { path: abs } });
    }
    throw unreadable(abs, cause);
  }
  if (entry === '' || entry === '.' || entry === '..') {
    throw registryError('FERRY_E_MODEL_PATH_UNSAFE', `${abs} cannot be registered as a model`, { details: { path: abs } });
  }
  if (st.isFile()) return { kind: 'file', entry, files: [{ rel: entry, abs, size: st.size }] };
  if (!st.isDirectory()) throw unsupported(abs, st);

  const root = await realpathOrThrow(abs, abs);
  const files: SourceFile[] = [];
  await walk(root, root, '', new Set([root]), files);
  if (files.length === 0) {
    throw registryError('FERRY_E_MODEL_SOURCE_EMPTY', `The folder ${abs} holds no files`, { details: { path: abs } });
  }
  return { kind: 'folder', entry, files };
}

async function walk(root: string, dir: string, prefix: string, ancestors: Set<string>, out: SourceFile[]): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (cause) {
    throw unreadable(dir, cause);
  }
  for (const name of names) {
    const child = join(dir, name);
    const rel = prefix + name;
    let st: Stats;
    try {
      st = await lstat(child);
    } catch (cause) {
      throw unreadable(child, cause);
    }
    let real = child;
    if (st.isSymbolicLink()) {
      real = await realpathOrThrow(child, root);
      if (real !== root && !real.startsWith(root + sep)) {
        throw registryError('FERRY_E_MODEL_PATH_UNSAFE', `${rel} is a symbolic link to ${real}, outside the folder being registered`, { details: { path: rel, target: real } });
      }
      try {
        st = await stat(real);
      } catch (cause) {
        throw unreadable(child, cause);
      }
    }
    if (st.isDirectory()) {
      if (ancestors.has(real)) {
        throw registryError('FERRY_E_MODEL_PATH_UNSAFE', `${rel} is a symbolic link to one of its own parent folders (a loop)`, { details: { path: rel } });
      }
      ancestors.add(real);
      await walk(root, real, `${rel}/`, ancestors, out);
      ancestors.delete(real);
    } else if (st.isFile()) {
      out.push({ rel, abs: real, size: st.size });
    } else {
      throw unsupported(rel, st);
    }
  }
}

async function realpathOrThrow(path: string, root: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') {
      throw registryError('FERRY_E_MODEL_PATH_UNSAFE', `${path} is a symbolic link that leads nowhere (dangling or looping) in ${root}`, { cause, details: { path } });
    }
    throw unreadable(path, cause);
  }
}

function unsupported(path: string, st: Stats): Error {
  const what = st.isSocket() ? 'a socket' : st.isFIFO() ? 'a named pipe' : st.isBlockDevice() || st.isCharacterDevice() ? 'a device' : 'not a regular file';
  return registryError('FERRY_E_MODEL_FILE_UNSUPPORTED', `${path} is ${what}`, { details: { path } });
}

function unreadable(path: string, cause: unknown): Error {
  return registryError('FERRY_E_MODEL_SOURCE_UNREADABLE', `Reading ${path} failed: ${(cause as Error).message}`, { cause, details: { path } });
}
