/**
 * Reading a model to store: one file, or a folder walked recursively. Symbolic links to files inside
 * the folder are read as files; links that leave the folder, point nowhere or point to folders are
 * refused, and so are sockets, pipes and devices.
 */
import { lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { basename, join, sep } from 'node:path';
import { deviceModelError } from './errors.js';
import { MANIFEST_FILE, comparePathBytes } from './model-manifest.js';

export interface SourceFile {
  /** '/'-separated path inside the model (the file name for a one-file model). */
  rel: string;
  /** Where to read it. */
  abs: string;
}

export interface ScannedSource {
  kind: 'file' | 'folder';
  /** Sorted by path bytes. */
  files: SourceFile[];
}

export function scanSource(path: string): ScannedSource {
  let stat: Stats;
  try {
    stat = statSync(path); // the path itself may be a link: the caller named it
  } catch (cause) {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_SOURCE_NOT_FOUND', `${path} does not exist or cannot be read`, { cause, details: { path } });
  }
  if (stat.isFile()) {
    const name = basename(path);
    if (name === MANIFEST_FILE) {
      throw deviceModelError('FERRY_E_DEVICE_MODEL_PATH_UNSAFE', `A one-file model cannot be named ${MANIFEST_FILE} (the model description has that name)`, { details: { path } });
    }
    return { kind: 'file', files: [{ rel: name, abs: path }] };
  }
  if (!stat.isDirectory()) {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_PATH_UNSAFE', `${path} is neither a file nor a folder`, { details: { path } });
  }
  const root = realpathSync(path);
  const files: SourceFile[] = [];
  walk(root, root, '', files);
  if (files.length === 0) {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_SOURCE_NOT_FOUND', `The folder ${path} holds no files`, { details: { path } });
  }
  if (files.some((f) => f.rel === MANIFEST_FILE)) {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_PATH_UNSAFE', `The folder ${path} holds a top-level ${MANIFEST_FILE}, the name of the model description`, { details: { path } });
  }
  files.sort((a, b) => comparePathBytes(a.rel, b.rel));
  return { kind: 'folder', files };
}

function walk(root: string, dir: string, prefix: string, out: SourceFile[]): void {
  for (const name of readdirSync(dir)) {
    const abs = join(dir, name);
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    const stat = lstatSync(abs);
    if (stat.isDirectory()) {
      walk(root, abs, rel, out);
    } else if (stat.isFile()) {
      out.push({ rel, abs });
    } else if (stat.isSymbolicLink()) {
      out.push({ rel, abs: linkedFile(root, abs) });
    } else {
      throw deviceModelError('FERRY_E_DEVICE_MODEL_PATH_UNSAFE', `${abs} is a socket, pipe or device`, { details: { path: abs } });
    }
  }
}

function linkedFile(root: string, link: string): string {
  let target: string;
  try {
    target = realpathSync(link);
  } catch (cause) {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_PATH_UNSAFE', `The symbolic link ${link} points nowhere`, { cause, details: { path: link } });
  }
  if (!target.startsWith(root + sep)) {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_PATH_UNSAFE', `The symbolic link ${link} points outside the model folder (to ${target})`, { details: { path: link, target } });
  }
  if (!statSync(target).isFile()) {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_PATH_UNSAFE', `The symbolic link ${link} points to a folder; only links to files are stored`, { details: { path: link, target } });
  }
  return target;
}
