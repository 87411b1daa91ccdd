/**
 * Fetching a model named by the twin's `{url, sha256}` (issue 4 §3) into the model cache volume
 * (FERRY_MODEL_CACHE, default /app/model-cache):
 *   <cacheDir>/sha256/<hash>/<file>              the model, one file
 *   <cacheDir>/sha256/<hash>/ferry-model.json    its description (model-manifest.ts)
 *   <cacheDir>/.fetch-<pid>-*                    downloads under way (renamed into sha256/ when verified);
 *                                                those a dead process left are removed by the next fetch (stale-staging.ts)
 *
 * HTTPS only (redirects too, at most 5). The body streams to a staging file while it is hashed; only
 * bytes whose sha256 matches are renamed into the cache, in one step. A cache hit is re-hashed (a
 * damaged entry is dropped and fetched again) and returned without a download. Fetches of the same
 * hash into the same cache share one download; it is cancelled only when every caller has aborted,
 * and runs with the options of the caller that started it.
 *
 * The cache is keyed by content, so name and version come from each request: `name` defaults to the
 * URL's file name without its extension (characters outside a model name replaced by `-`, `model`
 * when nothing is left), `version` to 0. The file keeps the URL's file name when it is a plain name,
 * else `model.onnx` (ONNX) or `model.bin`. A file is ONNX when it is named `*.onnx` (then it must
 * parse) or when it parses as ONNX; otherwise its framework is `custom`.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { get } from 'node:https';
import { join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isFerryError } from '../errors.js';
import type { FerryError } from '../errors.js';
import { MODEL_NAME_PATTERN, isValidModelName } from '../model-ref.js';
import { readOnnxModelInfo } from '../onnx/onnx-reader.js';
import { deviceModelError } from './errors.js';
import { MANIFEST_FILE, isSha256Hex, manifestJson, readManifest, resolveVersionDir } from './model-manifest.js';
import type { DeviceModel, DeviceModelManifest } from './model-manifest.js';
import { stagingPrefix, sweepStaleStaging } from './stale-staging.js';

export interface FetchModelSource {
  /** An https:// URL. */
  url: string;
  /** The expected sha256 of the body, 64 hex digits (either case). */
  sha256: string;
  /** Default: derived from the URL's file name (see above). */
  name?: string;
  /** Default 0. */
  version?: number;
}

export interface FetchModelOptions {
  cacheDir: string;
  /** CA certificate(s) (PEM) to trust instead of Node's defaults (https.request's `ca`). */
  ca?: string | Buffer;
  /** The whole fetch, redirects included. Default 300000. */
  timeoutMs?: number;
  /** The longest wait for the response or the next bytes of the body. Default 30000. */
  idleTimeoutMs?: number;
  /** Largest body accepted. Default: no limit. */
  maxBytes?: number;
  signal?: AbortSignal;
}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const PLAIN_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

interface SharedFetch {
  promise: Promise<DeviceModelManifest>;
  controller: AbortController;
  waiters: number;
}

/** Downloads under way in this process, by cache entry folder. */
const inFlight = new Map<string, SharedFetch>();

export async function fetchModel(source: FetchModelSource, options: FetchModelOptions): Promise<DeviceModel> {
  const sha256 = typeof source.sha256 === 'string' ? source.sha256.toLowerCase() : '';
  if (!isSha256Hex(sha256)) {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_HASH_INVALID', `${JSON.stringify(source.sha256)} is not a sha256 (64 hexadecimal digits)`);
  }
  const url = httpsUrl(source.url);
  const name = source.name ?? nameFromUrl(url);
  if (!isValidModelName(name)) {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_NAME_INVALID', `"${name}" is not a valid model name`, { details: { name } });
  }
  const version = source.version ?? 0;
  if (!Number.isSafeInteger(version) || version < 0) {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_NAME_INVALID', `The version must be a non-negative integer, not ${String(version)}`, { details: { version } });
  }
  if (options.signal?.aborted) throw aborted(url);

  const cacheDir = resolve(options.cacheDir);
  sweepStaleStaging(cacheDir, '.fetch-');
  const entry = join(cacheDir, 'sha256', sha256);
  let manifest = await readCacheEntry(entry, sha256);
  if (!manifest) {
    let shared = inFlight.get(entry);
    if (!shared) {
      const controller = new AbortController();
      const promise = download(url, sha256, cacheDir, entry, options, controller.signal);
      const started: SharedFetch = { promise, controller, waiters: 0 };
      shared = started;
      inFlight.set(entry, started);
      promise.catch(() => undefined).finally(() => {
        if (inFlight.get(entry) === started) inFlight.delete(entry);
      });
    }
    manifest = await joinShared(shared, options.signal, url, () => {
      // Cancelled: a fetch of the same hash that starts now must not join it.
      if (inFlight.get(entry) === shared) inFlight.delete(entry);
    });
  }
  return resolveVersionDir(entry, { ...manifest, name, version });
}

/** Waits for a shared download; a caller that aborts leaves, and the last one to leave cancels it. */
function joinShared(shared: SharedFetch, signal: AbortSignal | undefined, url: URL, onCancel: () => void): Promise<DeviceModelManifest> {
  shared.waiters++;
  return new Promise((resolvePromise, reject) => {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      shared.waiters--;
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const onAbort = (): void => {
      if (!settle()) return;
      if (shared.waiters === 0) {
        shared.controller.abort();
        onCancel();
      }
      reject(aborted(url));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    shared.promise.then(
      (m) => settle() && resolvePromise(m),
      (e: unknown) => settle() && reject(e),
    );
  });
}

function httpsUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_URL_INVALID', `${JSON.stringify(text)} is not an absolute URL`, { details: { url: text } });
  }
  if (url.protocol !== 'https:') {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_URL_INVALID', `${redact(url)} is not an https:// URL`, { details: { url: redact(url), protocol: url.protocol } });
  }
  return url;
}

/** The URL without credentials or query (which may hold a SAS token), for messages. */
function redact(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function lastSegment(url: URL): string {
  const raw = url.pathname.split('/').at(-1) ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** `https://h/models/cls-v2.onnx?sig=...` -> `cls-v2`. */
export function nameFromUrl(url: URL): string {
  const base = lastSegment(url).replace(/\.[A-Za-z0-9]{1,10}$/, '');
  const cleaned = base.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 255);
  return MODEL_NAME_PATTERN.test(cleaned) ? cleaned : 'model';
}

/** A verified cache entry's description, or undefined (missing, damaged: then it is removed). */
async function readCacheEntry(entry: string, sha256: string): Promise<DeviceModelManifest | undefined> {
  let manifest: DeviceModelManifest;
  try {
    manifest = readManifest(entry);
  } catch {
    await rm(entry, { recursive: true, force: true }).catch(() => undefined);
    return undefined;
  }
  const file = manifest.file === undefined ? undefined : join(entry, manifest.file);
  const actual = file === undefined ? undefined : await hashFile(file).catch(() => undefined);
  if (manifest.kind !== 'file' || manifest.sha256 !== sha256 || actual !== sha256) {
    await rm(entry, { recursive: true, force: true }).catch(() => undefined);
    return undefined;
  }
  return manifest;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function download(url: URL, sha256: string, cacheDir: string, entry: string, options: FetchModelOptions, signal: AbortSignal): Promise<DeviceModelManifest> {
  let staging: string;
  try {
    await mkdir(join(cacheDir, 'sha256'), { recursive: true });
    staging = await mkdtemp(stagingPrefix(cacheDir, '.fetch-'));
  } catch (cause) {
    throw deviceModelError('FERRY_E_DEVICE_MODEL_IO', `Cannot write in the model cache ${cacheDir}: ${(cause as Error).message}`, { cause, details: { path: cacheDir } });
  }
  try {
    const body = join(staging, 'body.partial');
    const got = await new Transfer(url, options, signal).toFile(body);
    if (got.sha256 !== sha256) {
      throw deviceModelError('FERRY_E_DEVICE_MODEL_HASH_MISMATCH', `The model downloaded from ${redact(url)} has sha256 ${got.sha256}, not ${sha256}`, {
        details: { url: redact(url), expected: sha256, actual: got.sha256, size: got.size },
      });
    }
    const segment = lastSegment(url);
    const isOnnx = await onnxKind(body, segment.toLowerCase().endsWith('.onnx'), url);
    const file = PLAIN_FILE_NAME.test(segment) && segment !== MANIFEST_FILE ? segment : isOnnx ? 'model.onnx' : 'model.bin';
    await rename(body, join(staging, file));
    const manifest: DeviceModelManifest = { name: nameFromUrl(url), version: 0, kind: 'file', framework: isOnnx ? 'onnx' : 'custom', file, sha256, tags: { url: redact(url) } };
    await writeFile(join(staging, MANIFEST_FILE), manifestJson(manifest));
    try {
      await rename(staging, entry);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw cause;
      // Another process stored the same content first: use its entry.
      await rm(staging, { recursive: true, force: true });
      const theirs = await readCacheEntry(entry, sha256);
      if (!theirs) throw cause;
      return theirs;
    }
    return manifest;
  } catch (cause) {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    if (isFerryError(cause)) throw cause;
    throw deviceModelError('FERRY_E_DEVICE_MODEL_IO', `Storing the model from ${redact(url)} in ${cacheDir} failed: ${(cause as Error).message}`, { cause, details: { path: cacheDir } });
  }
}

/** True when the file is ONNX; a file named *.onnx that does not parse is FERRY_E_DEVICE_MODEL_INVALID. */
async function onnxKind(path: string, namedOnnx: boolean, url: URL): Promise<boolean> {
  try {
    readOnnxModelInfo(await readFile(path));
    return true;
  } catch (cause) {
    if (!namedOnnx) return false;
    const reason = isFerryError(cause) ? cause.reason : (cause as Error).message;
    throw deviceModelError('FERRY_E_DEVICE_MODEL_INVALID', `The model downloaded from ${redact(url)} is not a readable ONNX model: ${reason}`, { cause, details: { url: redact(url) } });
  }
}

function aborted(url: URL): FerryError {
  return deviceModelError('FERRY_E_DEVICE_MODEL_FETCH_ABORTED', `The download of ${redact(url)} was cancelled`, { details: { url: redact(url) } });
}

/** One download, redirects followed, with its timers; the first failure wins and tears it down. */
class Transfer {
  readonly #url: URL;
  readonly #options: FetchModelOptions;
  readonly #signal: AbortSignal;
  #failure: FerryError | undefined;
  #teardown: ((e: Error) => void) | undefined;
  #idle: NodeJS.Timeout | undefined;

  constructor(url: URL, options: FetchModelOptions, signal: AbortSignal) {
    this.#url = url;
    this.#options = options;
    this.#signal = signal;
  }

  async toFile(path: string): Promise<{ sha256: string; size: number }> {
    const timeoutMs = this.#options.timeoutMs ?? 300_000;
    const total = setTimeout(() => this.#fail(this.#timeout('total', timeoutMs)), timeoutMs);
    const onAbort = (): void => this.#fail(aborted(this.#url));
    this.#signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (this.#signal.aborted) throw aborted(this.#url);
      const res = await this.#follow();
      return await this.#save(res, path);
    } catch (cause) {
      throw this.#failure ?? this.#classify(cause);
    } finally {
      clearTimeout(total);
      clearTimeout(this.#idle);
      this.#signal.removeEventListener('abort', onAbort);
    }
  }

  #fail(e: FerryError): void {
    if (this.#failure) return;
    this.#failure = e;
    this.#teardown?.(e);
  }

  #kick(): void {
    const ms = this.#options.idleTimeoutMs ?? 30_000;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.#fail(this.#timeout('idle', ms)), ms);
  }

  #timeout(kind: 'idle' | 'total', ms: number): FerryError {
    const what = kind === 'idle' ? `sent nothing for ${ms} ms` : `did not finish within ${ms} ms`;
    return deviceModelError('FERRY_E_DEVICE_MODEL_FETCH_TIMEOUT', `The download of ${redact(this.#url)} ${what}`, { details: { url: redact(this.#url), timeout: kind, ms } });
  }

  async #follow(): Promise<IncomingMessage> {
    let url = this.#url;
    for (let hop = 0; ; hop++) {
      const res = await this.#get(url);
      const status = res.statusCode ?? 0;
      if (status === 200) return res;
      res.resume();
      const location = res.headers.location;
      if (REDIRECTS.has(status) && location !== undefined) {
        if (hop >= MAX_REDIRECTS) {
          throw deviceModelError('FERRY_E_DEVICE_MODEL_FETCH_FAILED', `The download of ${redact(this.#url)} was redirected more than ${MAX_REDIRECTS} times`, { details: { url: redact(this.#url) } });
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw deviceModelError('FERRY_E_DEVICE_MODEL_FETCH_FAILED', `${redact(url)} redirected to an invalid location`, { details: { url: redact(url) } });
        }
        if (next.protocol !== 'https:') {
          throw deviceModelError('FERRY_E_DEVICE_MODEL_URL_INVALID', `${redact(url)} redirected to ${redact(next)}, which is not https://`, { details: { url: redact(next), protocol: next.protocol } });
        }
        url = next;
        continue;
      }
      throw deviceModelError('FERRY_E_DEVICE_MODEL_HTTP_STATUS', `${redact(url)} answered ${status} ${res.statusMessage ?? ''}`.trimEnd(), { details: { url: redact(url), status } });
    }
  }

  #get(url: URL): Promise<IncomingMessage> {
    return new Promise((resolvePromise, reject) => {
      const req = get(url, { ...(this.#options.ca === undefined ? {} : { ca: this.#options.ca }), agent: false, headers: { accept: '*/*' } }, (res) => {
        this.#teardown = (e) => {
          res.destroy(e);
          req.destroy(e);
        };
        this.#kick();
        resolvePromise(res);
      });
      this.#teardown = (e) => req.destroy(e);
      req.on('error', reject);
      this.#kick();
      if (this.#failure) req.destroy(this.#failure);
    });
  }

  async #save(res: IncomingMessage, path: string): Promise<{ sha256: string; size: number }> {
    const max = this.#options.maxBytes;
    const declared = Number(res.headers['content-length']);
    if (max !== undefined && Number.isFinite(declared) && declared > max) {
      res.destroy();
      throw this.#tooLarge(max);
    }
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        size += chunk.length;
        if (max !== undefined && size > max) {
          callback(this.#tooLarge(max));
          return;
        }
        hash.update(chunk);
        this.#kick();
        callback(null, chunk);
      },
    });
    await pipeline(res, meter, createWriteStream(path, { flags: 'wx', mode: 0o644 }));
    if (!res.complete) throw new Error('the connection closed before the whole body arrived');
    return { sha256: hash.digest('hex'), size };
  }

  #tooLarge(max: number): FerryError {
    return deviceModelError('FERRY_E_DEVICE_MODEL_TOO_LARGE', `The model at ${redact(this.#url)} is larger than ${max} bytes`, { details: { url: redact(this.#url), maxBytes: max } });
  }

  #classify(cause: unknown): FerryError {
    if (isFerryError(cause)) return cause as FerryError;
    const err = cause as NodeJS.ErrnoException;
    return deviceModelError('FERRY_E_DEVICE_MODEL_FETCH_FAILED', `The download of ${redact(this.#url)} failed: ${err.code ? `${err.code}: ` : ''}${err.message}`, { cause, details: { url: redact(this.#url), ...(err.code ? { cause: err.code } : {}) } });
  }
}
