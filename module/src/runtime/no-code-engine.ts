/**
 * No-code mode inside a worker: one onnxruntime session; requests decoded to tensors against the
 * signature; requests of one job that agree on every dimension but the first run as one batch and
 * their outputs are split back (issue §3, "micro-batching").
 */
import type * as Ort from 'onnxruntime-node';
import { scoringError } from '../errors.js';
import type { Dimension, ElementType, ValueSignature } from '../onnx/model-info.js';
import { decodeBinaryTensor, decodeJsonTensor, encodeTensorJson, invalid, NO_CODE_INPUT_TYPES } from './tensor-codec.js';
import type { InputArray, TensorData } from './tensor-codec.js';
import type { ReadyInfo, WireItem, WireResult, WorkerSetup } from './worker-protocol.js';
import { BINARY_OUTPUT_TYPES, toWireError } from './worker-protocol.js';
import { parseJsonBody, sessionOptions } from './worker-shared.js';
import { inNative } from './native-guard.js';

type Feeds = Record<string, TensorData>;
type Decoded = { ok: true; feeds: Feeds; rows: number; binary: boolean } | { ok: false; result: WireResult };

const encoder = new TextEncoder();

export class NoCodeEngine {
  readonly #ort: typeof Ort;
  readonly #session: Ort.InferenceSession;
  readonly #inputs: ValueSignature[];
  readonly #outputs: ValueSignature[];
  readonly #byName: Map<string, ValueSignature>;
  #batchable: boolean;

  private constructor(ort: typeof Ort, session: Ort.InferenceSession, inputs: ValueSignature[], outputs: ValueSignature[], maxBatchSize: number) {
    this.#ort = ort;
    this.#session = session;
    this.#inputs = inputs;
    this.#outputs = outputs;
    this.#byName = new Map(inputs.map((s) => [s.name, s]));
    // Batch along the first dimension only when every input and output has a symbolic first dimension.
    const symbolicFirst = (s: ValueSignature): boolean => s.shape !== null && s.shape.length > 0 && typeof s.shape[0] !== 'number';
    this.#batchable = maxBatchSize > 1 && inputs.length > 0 && inputs.every(symbolicFirst) && outputs.every(symbolicFirst);
  }

  static async create(ort: typeof Ort, setup: WorkerSetup): Promise<NoCodeEngine> {
    const file = setup.onnxFile as string;
    let session: Ort.InferenceSession;
    try {
      session = await inNative(() => ort.InferenceSession.create(file, sessionOptions(setup.threads)));
    } catch (e) {
      throw scoringError('FERRY_E_MODEL_INVALID', `onnxruntime cannot load ${file}: ${(e as Error).message}`, { cause: e });
    }
    // The registry's signature (read from the ModelProto) tells "no shape" from "scalar"; the session's does not.
    const known = setup.models[0]?.onnx;
    const inputs = session.inputMetadata.map((m) => toSignature(m, known?.inputs));
    const outputs = session.outputMetadata.map((m) => toSignature(m, known?.outputs));
    for (const s of inputs) {
      if (s.kind !== 'tensor' || !NO_CODE_INPUT_TYPES.has(s.elementType)) {
        await inNative(() => session.release());
        throw scoringError('FERRY_E_MODEL_UNSUPPORTED', `Input "${s.name}" of ${file} is ${s.kind === 'tensor' ? `a ${s.elementType} tensor` : `a ${s.kind}`}; no-code mode feeds tensors of ${[...NO_CODE_INPUT_TYPES].join(', ')}`);
      }
    }
    return new NoCodeEngine(ort, session, inputs, outputs, setup.maxBatchSize);
  }

  /** Releases the onnxruntime session. */
  async close(): Promise<void> {
    await inNative(() => this.#session.release());
  }

  get info(): ReadyInfo {
    return { inputs: this.#inputs, outputs: this.#outputs, batchable: this.#batchable };
  }

  async process(items: WireItem[]): Promise<WireResult[]> {
    const results: WireResult[] = new Array<WireResult>(items.length);
    const decoded = items.map((it) => this.#decode(it));
    const groups = new Map<string, number[]>();
    decoded.forEach((d, i) => {
      if (!d.ok) { results[i] = d.result; return; }
      const key = this.#batchable && items.length > 1 ? batchKey(d.feeds, this.#inputs) : `#${i}`;
      const g = groups.get(key);
      if (g) g.push(i); else groups.set(key, [i]);
    });
    for (const members of groups.values()) {
      if (members.length === 1) {
        const i = members[0] as number;
        const d = decoded[i] as { feeds: Feeds; binary: boolean };
        results[i] = await this.#runOne(d.feeds, d.binary);
      } else {
        const batch = await this.#runBatch(members.map((i) => decoded[i] as { feeds: Feeds; rows: number; binary: boolean }));
        members.forEach((i, j) => { results[i] = batch[j] as WireResult; });
      }
    }
    return results;
  }

  #decode(item: WireItem): Decoded {
    try {
      const binary = item.output === 'binary';
      if (binary && !(this.#outputs.length === 1 && BINARY_OUTPUT_TYPES.has((this.#outputs[0] as ValueSignature).elementType))) {
        throw scoringError('FERRY_E_NOT_ACCEPTABLE', `A binary answer needs a model with one numeric output; this one has ${this.#outputs.map((o) => `${o.name} (${o.elementType})`).join(', ')}`);
      }
      let feeds: Feeds;
      if (item.kind === 'binary') {
        if (this.#inputs.length !== 1) {
          throw scoringError('FERRY_E_BINARY_NOT_SUPPORTED', `This model has ${this.#inputs.length} inputs; a raw body can only feed a single-input model`);
        }
        const sig = this.#inputs[0] as ValueSignature;
        feeds = { [sig.name]: decodeBinaryTensor(item.body, sig, item.shape) };
      } else {
        const value = item.kind === 'json' ? item.value : parseJsonBody(item.body);
        feeds = this.#feedsFromJson(value);
      }
      const first = this.#inputs[0] ? feeds[this.#inputs[0].name] : undefined;
      return { ok: true, feeds, rows: first?.dims[0] ?? 1, binary };
    } catch (e) {
      return { ok: false, result: { ok: false, error: toWireError(e, { code: 'FERRY_E_REQUEST_INVALID', prefix: 'The request cannot be read: ' }) } };
    }
  }

  #feedsFromJson(value: unknown): Feeds {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      invalid('', `must be a JSON object with ${this.#inputs.length === 1 ? '"data"' : `the keys ${this.#inputs.map((s) => `"${s.name}"`).join(', ')}`}`);
    }
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    const feeds: Feeds = {};
    if (this.#inputs.length === 1) {
      const sig = this.#inputs[0] as ValueSignature;
      // {"data": ...} or {"<input name>": ...} (issue §3).
      const key = keys.find((k) => k === 'data' || k === sig.name);
      if (key === undefined) invalid('/data', `is missing: send the input "${sig.name}" as {"data": ...}`);
      for (const k of keys) if (k !== key) invalid(`/${escape(k)}`, `is not an input of this model (its only input is "${sig.name}", sent as "${key}")`);
      feeds[sig.name] = decodeJsonTensor(obj[key], sig, `/${escape(key)}`);
      return feeds;
    }
    for (const k of keys) {
      if (!this.#byName.has(k)) invalid(`/${escape(k)}`, `is not an input of this model (inputs: ${this.#inputs.map((s) => s.name).join(', ')})`);
    }
    for (const sig of this.#inputs) {
      if (!(sig.name in obj)) invalid(`/${escape(sig.name)}`, `is missing: the model needs the input "${sig.name}"`);
      feeds[sig.name] = decodeJsonTensor(obj[sig.name], sig, `/${escape(sig.name)}`);
    }
    return feeds;
  }

  async #run(feeds: Feeds): Promise<{ out: Ort.InferenceSession.ReturnType; execMs: number }> {
    const ortFeeds: Record<string, Ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new this.#ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
    const t0 = performance.now();
    const out = await inNative(() => this.#session.run(ortFeeds));
    return { out, execMs: performance.now() - t0 };
  }

  async #runOne(feeds: Feeds, binary: boolean): Promise<WireResult> {
    try {
      const { out, execMs } = await this.#run(feeds);
      return binary ? { ...this.#raw(out, -1, 0), execMs } : { ok: true, body: this.#encode(out, -1, 0), execMs };
    } catch (e) {
      return { ok: false, error: runFailure(e) };
    }
  }

  async #runBatch(members: { feeds: Feeds; rows: number; binary: boolean }[]): Promise<WireResult[]> {
    const total = members.reduce((a, m) => a + m.rows, 0);
    const feeds: Feeds = {};
    for (const sig of this.#inputs) {
      const parts = members.map((m) => m.feeds[sig.name] as TensorData);
      const first = parts[0] as TensorData;
      feeds[sig.name] = { type: first.type, data: concat(parts.map((p) => p.data)), dims: [total, ...first.dims.slice(1)] };
    }
    let run: { out: Ort.InferenceSession.ReturnType; execMs: number } | undefined;
    try {
      run = await this.#run(feeds);
      if (!this.#outputs.every((s) => run?.out[s.name]?.dims[0] === total)) run = undefined;
    } catch {
      run = undefined;
    }
    if (!run) {
      // The batch failed or its outputs do not follow the first dimension: run each request alone,
      // so every request gets its own answer or error; stop batching this model.
      this.#batchable = false;
      const results: WireResult[] = [];
      for (const m of members) results.push(await this.#runOne(m.feeds, m.binary));
      return results;
    }
    const results: WireResult[] = [];
    let row = 0;
    for (const m of members) {
      results.push(m.binary ? { ...this.#raw(run.out, row, m.rows), execMs: run.execMs } : { ok: true, body: this.#encode(run.out, row, m.rows), execMs: run.execMs });
      row += m.rows;
    }
    return results;
  }

  /** The one output's raw bytes (rows [row, row+rows) of a batched run, or all when row < 0): zero-copy when it is the whole tensor. */
  #raw(out: Ort.InferenceSession.ReturnType, row: number, rows: number): { ok: true; body: Uint8Array; tensor: { name: string; elementType: string; dims: number[] } } {
    const sig = this.#outputs[0] as ValueSignature;
    const t = out[sig.name] as Ort.Tensor;
    const data = t.data as Uint8Array;
    let dims = [...t.dims];
    let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (row >= 0) {
      const rowBytes = data.byteLength / (dims[0] as number);
      bytes = bytes.subarray(row * rowBytes, (row + rows) * rowBytes);
      dims = [rows, ...dims.slice(1)];
    }
    // Only a view of a whole ArrayBuffer may be transferred; anything else is copied out.
    if (row >= 0 || bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) bytes = bytes.slice();
    return { ok: true, body: bytes, tensor: { name: sig.name, elementType: t.type, dims } };
  }

  /** `{"<output>": nested arrays, ...}`; rows [row, row+rows) of a batched run, or everything when row < 0. */
  #encode(out: Ort.InferenceSession.ReturnType, row: number, rows: number): Uint8Array {
    let json = '{';
    let first = true;
    for (const sig of this.#outputs) {
      const t = out[sig.name];
      if (!t) continue;
      let data = t.data as ArrayLike<number>;
      let dims: readonly number[] = t.dims;
      if (row >= 0) {
        const rowSize = dims.slice(1).reduce((a, b) => a * b, 1);
        const view = data as unknown as { subarray?: (a: number, b: number) => ArrayLike<number>; slice: (a: number, b: number) => ArrayLike<number> };
        data = view.subarray ? view.subarray(row * rowSize, (row + rows) * rowSize) : view.slice(row * rowSize, (row + rows) * rowSize);
        dims = [rows, ...dims.slice(1)];
      }
      json += `${first ? '' : ','}${JSON.stringify(sig.name)}:${encodeTensorJson(t.type, data, dims)}`;
      first = false;
    }
    return encoder.encode(json + '}');
  }
}

function runFailure(e: unknown) {
  return toWireError(e, { code: 'FERRY_E_SCORING_FAILED', prefix: 'onnxruntime failed to run the model: ', details: { functionFailed: true } });
}

function batchKey(feeds: Feeds, inputs: ValueSignature[]): string {
  let key = '';
  for (const s of inputs) key += `${(feeds[s.name] as TensorData).dims.slice(1).join('x')}|`;
  return key;
}

function concat(parts: InputArray[]): InputArray {
  const total = parts.reduce((a, p) => a + p.length, 0);
  const first = parts[0] as InputArray;
  const out = new (first.constructor as new (n: number) => InputArray)(total);
  let off = 0;
  for (const p of parts) {
    (out as Float32Array).set(p as Float32Array, off);
    off += p.length;
  }
  return out;
}

function escape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** onnxruntime-node's value metadata -> Ferry's ValueSignature. */
function toSignature(m: Ort.InferenceSession.ValueMetadata, known: readonly ValueSignature[] | undefined): ValueSignature {
  const registered = known?.find((k) => k.name === m.name);
  if (!m.isTensor) return { name: m.name, kind: registered?.kind ?? 'unknown', elementType: registered?.elementType ?? 'undefined', shape: null };
  if (registered && registered.kind === 'tensor') return { name: m.name, kind: 'tensor', elementType: m.type as ElementType, shape: registered.shape };
  // onnxruntime reports both "no shape" and a scalar as []: without the registry's word, accept any shape.
  const shape: Dimension[] | null = m.shape.length === 0 ? null
    : m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' && d !== '' ? d : null));
  return { name: m.name, kind: 'tensor', elementType: m.type as ElementType, shape };
}
