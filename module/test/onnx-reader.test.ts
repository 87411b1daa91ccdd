import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, crc32 } from 'node:zlib';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFerryError } from '../src/errors.js';
import type { OnnxModelInfo, ValueSignature } from '../src/onnx/model-info.js';
import { readOnnxModelFile, readOnnxModelInfo } from '../src/onnx/onnx-reader.js';
import { buildOnnxModel } from '../src/onnx/onnx-writer.js';
import type { OnnxModelSpec } from '../src/onnx/onnx-writer.js';
import { WireWriter } from '../src/onnx/protobuf-wire.js';

// Hand-assembled ModelProtos (field numbers from onnx/onnx.proto), independent of buildOnnxModel.
const str = (field: number, s: string) => new WireWriter().stringField(field, s);
function dim(d: number | string | null): WireWriter {
  const w = new WireWriter();
  if (typeof d === 'number') w.int64Field(1, d);
  else if (typeof d === 'string') w.stringField(2, d);
  return w;
}
function tensorType(elemType: number, shape?: (number | string | null)[]): WireWriter {
  const t = new WireWriter().uint64Field(1, elemType);
  if (shape) {
    const s = new WireWriter();
    for (const d of shape) s.messageField(1, dim(d));
    t.messageField(2, s);
  }
  return new WireWriter().messageField(1, t); // TypeProto.tensor_type = 1
}
function valueInfo(name: string, type?: WireWriter): WireWriter {
  const v = str(1, name);
  if (type) v.messageField(2, type);
  return v;
}
function opset(version: number, domain = ''): WireWriter {
  const o = new WireWriter();
  if (domain) o.stringField(1, domain);
  return o.uint64Field(2, version);
}
function identityNode(input: string, output: string): WireWriter {
  return str(1, input).stringField(2, output).stringField(4, 'Identity');
}
function modelBytes(graph: WireWriter, extra: (m: WireWriter) => void = () => {}, irVersion = 8): Uint8Array {
  const m = new WireWriter().uint64Field(1, irVersion).stringField(2, 'hand');
  m.messageField(7, graph);
  m.messageField(8, opset(17));
  extra(m);
  return m.finish();
}

function invalidReason(bytes: Uint8Array): { offset: number; message: string } {
  try {
    readOnnxModelInfo(bytes);
  } catch (e) {
    expect(isFerryError(e)).toBe(true);
    const err = e as Error & { code: string; status: number; details?: { offset?: unknown } };
    expect(err.code).toBe('FERRY_E_MODEL_INVALID');
    expect(err.status).toBe(422);
    expect(typeof err.details?.offset).toBe('number');
    return { offset: err.details?.offset as number, message: err.message };
  }
  throw new Error('expected FERRY_E_MODEL_INVALID, the bytes were accepted');
}

/** What onnxruntime-node reports for a value, in its own terms ('' for unnamed dims, [] for no shape). */
function asOrtMetadata(v: ValueSignature): unknown {
  return v.kind === 'tensor'
    ? { name: v.name, isTensor: true, type: v.elementType, shape: (v.shape ?? []).map((d) => (d === null ? '' : d)) }
    : { name: v.name, isTensor: false };
}

async function ortMetadata(bytes: Uint8Array): Promise<{ inputs: unknown[]; outputs: unknown[] }> {
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    return { inputs: [...session.inputMetadata], outputs: [...session.outputMetadata] };
  } finally {
    await session.release();
  }
}

describe('readOnnxModelInfo on hand-assembled models', () => {
  it('reads the model header, opsets, metadata and the graph signature', async () => {
    const graph = new WireWriter()
      .messageField(1, identityNode('x', 'y'))
      .stringField(2, 'g')
      .stringField(10, 'graph doc')
      .messageField(11, valueInfo('x', tensorType(1, ['batch', 3, null, 7])).stringField(3, 'the input'))
      .messageField(12, valueInfo('y', tensorType(1, ['batch', 3, null, 7])));
    const bytes = modelBytes(graph, (m) => {
      m.stringField(3, '1.2.3').stringField(4, 'org.example').int64Field(5, 42).stringField(6, 'model doc');
      m.messageField(8, opset(1, 'ai.onnx.ml'));
      m.messageField(14, str(1, 'k1').stringField(2, 'v1'));
      m.messageField(14, str(1, '__proto__').stringField(2, 'v2'));
    });
    const info = readOnnxModelInfo(bytes);
    expect(info).toEqual<OnnxModelInfo>({
      irVersion: 8,
      opsets: [{ domain: '', version: 17 }, { domain: 'ai.onnx.ml', version: 1 }],
      opset: 17,
      producerName: 'hand',
      producerVersion: '1.2.3',
      domain: 'org.example',
      modelVersion: 42,
      docString: 'model doc',
      graphName: 'g',
      inputs: [{ name: 'x', kind: 'tensor', elementType: 'float32', shape: ['batch', 3, null, 7], docString: 'the input' }],
      outputs: [{ name: 'y', kind: 'tensor', elementType: 'float32', shape: ['batch', 3, null, 7] }],
      metadata: { k1: 'v1', ['__proto__']: 'v2' },
    });
    expect(Object.getPrototypeOf(info.metadata)).toBe(Object.prototype);
    const ortMeta = await ortMetadata(bytes);
    expect(info.inputs.map(asOrtMetadata)).toEqual(ortMeta.inputs);
    expect(info.outputs.map(asOrtMetadata)).toEqual(ortMeta.outputs);
  });

  it('leaves out inputs that are initializers (dense or sparse), keeps the rest in order', async () => {
    const tensor = (name: string) => new WireWriter().int64Field(1, 2).uint64Field(2, 1).stringField(8, name).bytesField(9, new Uint8Array(8));
    const graph = new WireWriter()
      .messageField(1, str(1, 'a').stringField(1, 'w').stringField(2, 's').stringField(4, 'Add'))
      .messageField(1, str(1, 's').stringField(1, 'v').stringField(2, 'y').stringField(4, 'Add'))
      .stringField(2, 'g')
      .messageField(5, tensor('w'))
      .messageField(15, new WireWriter().messageField(1, tensor('v')).messageField(2, new WireWriter().int64Field(1, 2).uint64Field(2, 7).bytesField(9, new Uint8Array(new BigInt64Array([0n, 1n]).buffer))).int64Field(3, 2))
      .messageField(11, valueInfo('a', tensorType(1, [2])))
      .messageField(11, valueInfo('w', tensorType(1, [2])))
      .messageField(11, valueInfo('v', tensorType(1, [2])))
      .messageField(12, valueInfo('y', tensorType(1, [2])));
    const bytes = modelBytes(graph);
    const info = readOnnxModelInfo(bytes);
    expect(info.inputs.map((i) => i.name)).toEqual(['a']);
    const ortMeta = await ortMetadata(bytes);
    expect(info.inputs.map(asOrtMetadata)).toEqual(ortMeta.inputs);
  });

  it('reads scalars, unknown rank, negative and empty dims, every element type code and non-tensor kinds', () => {
    const seqOf = (inner: WireWriter) => new WireWriter().messageField(4, new WireWriter().messageField(1, inner));
    const optOf = (inner: WireWriter) => new WireWriter().messageField(9, new WireWriter().messageField(1, inner));
    const mapOf = (key: number, value: WireWriter) => new WireWriter().messageField(5, new WireWriter().uint64Field(1, key).messageField(2, value));
    const sparse = new WireWriter().messageField(8, new WireWriter().uint64Field(1, 1).messageField(2, new WireWriter().messageField(1, dim(5))));
    const graph = new WireWriter().stringField(2, 'g')
      .messageField(11, valueInfo('scalar', tensorType(7, [])))
      .messageField(11, valueInfo('any_rank', tensorType(11)))
      .messageField(11, valueInfo('neg', tensorType(1, [-1, 4])))
      .messageField(11, valueInfo('seq', seqOf(tensorType(6, ['n']))))
      .messageField(11, valueInfo('opt', optOf(tensorType(9, [2]))))
      .messageField(11, valueInfo('map', mapOf(8, tensorType(1))))
      .messageField(11, valueInfo('sparse', sparse))
      .messageField(11, valueInfo('untyped'))
      .messageField(11, valueInfo('opaque', new WireWriter().messageField(7, str(1, 'dom'))));
    for (let code = 0; code <= 25; code++) graph.messageField(12, valueInfo(`t${code}`, tensorType(code, [1])));
    const info = readOnnxModelInfo(modelBytes(graph));
    const byName = Object.fromEntries(info.inputs.map((i) => [i.name, i]));
    expect(byName.scalar).toMatchObject({ kind: 'tensor', elementType: 'int64', shape: [] });
    expect(byName.any_rank).toMatchObject({ kind: 'tensor', elementType: 'float64', shape: null });
    expect(byName.neg).toMatchObject({ shape: [null, 4] });
    expect(byName.seq).toMatchObject({ kind: 'sequence', elementType: 'int32', shape: ['n'] });
    expect(byName.opt).toMatchObject({ kind: 'optional', elementType: 'bool', shape: [2] });
    expect(byName.map).toMatchObject({ kind: 'map', elementType: 'float32', shape: null });
    expect(byName.sparse).toMatchObject({ kind: 'sparse_tensor', elementType: 'float32', shape: [5] });
    expect(byName.untyped).toMatchObject({ kind: 'unknown', elementType: 'undefined', shape: null });
    expect(byName.opaque).toMatchObject({ kind: 'unknown' });
    // TensorProto.DataType numbering (onnx.proto), written out here independently of element-type.ts.
    const expected = ['undefined', 'float32', 'uint8', 'int8', 'uint16', 'int16', 'int32', 'int64', 'string', 'bool', 'float16',
      'float64', 'uint32', 'uint64', 'complex64', 'complex128', 'bfloat16', 'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2',
      'float8e5m2fnuz', 'uint4', 'int4', 'float4e2m1', 'undefined', 'undefined'];
    expect(info.outputs.map((o) => o.elementType)).toEqual(expected);
  });

  it('skips unknown fields of every wire type, accepts packed and unpacked forms, and takes the last scalar', () => {
    const graph = new WireWriter().stringField(2, 'first').stringField(2, 'g')
      .tag(99, 1).fixed64(1n).tag(98, 5).fixed32(1).uint64Field(97, 5).stringField(96, 'x')
      .messageField(12, valueInfo('y', tensorType(1, [1])));
    const bytes = modelBytes(graph, (m) => {
      m.tag(20, 2).varint(0); // training_info (empty)
      m.uint64Field(1000, 2n ** 63n);
      m.int64Field(5, -3);
    });
    const info = readOnnxModelInfo(bytes);
    expect(info.graphName).toBe('g');
    expect(info.modelVersion).toBe(-3);
    expect(info.inputs).toEqual([]);
  });

  it('does not decode node or initializer contents', () => {
    // A node and an initializer full of bytes that would not parse: skipped whole, as documented.
    const graph = new WireWriter()
      .bytesField(1, new Uint8Array([0xff, 0xff, 0xff]))
      .stringField(2, 'g')
      .messageField(5, new WireWriter().bytesField(9, new Uint8Array([0x0f, 0x0e])).stringField(8, 'w'))
      .messageField(12, valueInfo('y', tensorType(1, [1])));
    expect(readOnnxModelInfo(modelBytes(graph)).outputs).toHaveLength(1);
  });
});

describe('refusing what is not an ONNX model', () => {
  const validGraph = () => new WireWriter().messageField(1, identityNode('x', 'y')).stringField(2, 'g')
    .messageField(11, valueInfo('x', tensorType(1, ['n'])))
    .messageField(12, valueInfo('y', tensorType(1, ['n'])));

  it('refuses an empty buffer', () => {
    expect(invalidReason(new Uint8Array()).message).toMatch(/empty/);
  });

  it('refuses random bytes (200 seeds)', () => {
    for (let i = 0; i < 200; i++) invalidReason(new Uint8Array(randomBytes(1 + (i * 37) % 5000)));
  });

  it('refuses text, JSON, a PNG and a zip holding a valid model', () => {
    invalidReason(new TextEncoder().encode('Hello, this is plain text.\nNot a model.\n'));
    invalidReason(new TextEncoder().encode(JSON.stringify({ irVersion: 8, graph: { outputs: ['y'] } })));
    invalidReason(new TextEncoder().encode('ir_version: 8\ngraph {\n  output { name: "y" }\n}\n'));
    // PNG: signature, then an IHDR chunk (length, type, 13 data bytes, CRC).
    const ihdr = Buffer.concat([Buffer.from('IHDR'), Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0])]);
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      Buffer.from([0, 0, 0, 13]), ihdr, u32be(crc32(ihdr)),
    ]);
    invalidReason(png);
    invalidReason(zipOf('model.onnx', modelBytes(validGraph()), false));
    invalidReason(zipOf('model.onnx', modelBytes(validGraph()), true));
  });

  it('refuses every truncation of a valid model', () => {
    const bytes = modelBytes(validGraph());
    expect(readOnnxModelInfo(bytes).outputs).toHaveLength(1);
    for (let n = 0; n < bytes.length; n++) invalidReason(bytes.subarray(0, n));
  });

  it('refuses trailing garbage', () => {
    const bytes = modelBytes(validGraph());
    for (const tail of [[0x00], [0xff], [0x0b], [0x12, 0x10, 0x41]]) {
      const r = invalidReason(Uint8Array.from([...bytes, ...tail]));
      expect(r.offset).toBeGreaterThanOrEqual(bytes.length);
    }
  });

  it('gives the offset and the path of a problem deep inside the graph', () => {
    const badName = new WireWriter().bytesField(1, Uint8Array.from([0x79, 0xc3, 0x28]));
    const graph = new WireWriter().stringField(2, 'g').messageField(12, badName);
    const bytes = modelBytes(graph);
    const r = invalidReason(bytes);
    // The string's payload starts after: ir_version (2) + producer (6) + graph tag+len (2) + name (3) + output tag+len (2) + name tag+len (2).
    expect(r.offset).toBe(2 + 6 + 2 + 3 + 2 + 2);
    expect(bytes[r.offset]).toBe(0x79);
    expect(r.message).toMatch(/graph\.output\[0\]/);
    expect(r.message).toMatch(/UTF-8/);
  });

  it('refuses models that parse as protobuf but break ONNX rules', () => {
    const noOutputs = new WireWriter().stringField(2, 'g').messageField(11, valueInfo('x', tensorType(1, [1])));
    expect(invalidReason(modelBytes(noOutputs)).message).toMatch(/no outputs/);
    expect(invalidReason(modelBytes(validGraph(), () => {}, 0)).message).toMatch(/ir_version/);
    expect(invalidReason(new WireWriter().stringField(2, 'p').messageField(7, validGraph()).messageField(8, opset(17)).finish()).message).toMatch(/ir_version/);
    expect(invalidReason(new WireWriter().uint64Field(1, 8).messageField(8, opset(17)).finish()).message).toMatch(/no graph/);
    expect(invalidReason(new WireWriter().uint64Field(1, 8).messageField(7, validGraph()).finish()).message).toMatch(/opset_import/);
    const unnamed = new WireWriter().stringField(2, 'g').messageField(12, valueInfo('', tensorType(1, [1])));
    expect(invalidReason(modelBytes(unnamed)).message).toMatch(/no name/);
    // ir_version as a string (wrong wire type for a known field).
    expect(invalidReason(new WireWriter().stringField(1, '8').messageField(7, validGraph()).finish()).message).toMatch(/wire type 2, expected 0/);
    expect(invalidReason(modelBytes(validGraph(), (m) => m.messageField(7, validGraph()))).message).toMatch(/twice/);
    // A type nested 100 levels deep.
    let deep = tensorType(1, [1]);
    for (let i = 0; i < 100; i++) deep = new WireWriter().messageField(4, new WireWriter().messageField(1, deep));
    const deepGraph = new WireWriter().stringField(2, 'g').messageField(12, valueInfo('y', deep));
    expect(invalidReason(modelBytes(deepGraph)).message).toMatch(/nests deeper/);
  });
});

describe('readOnnxModelFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-onnx-reader-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a model file and names the file when refusing one', async () => {
    const spec: OnnxModelSpec = {
      inputs: [{ name: 'x', elementType: 'float32', shape: ['n'] }],
      outputs: [{ name: 'y', elementType: 'float32', shape: ['n'] }],
      nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }],
    };
    const good = join(dir, 'good.onnx');
    await writeFile(good, buildOnnxModel(spec));
    expect((await readOnnxModelFile(good)).outputs[0]?.name).toBe('y');

    const bad = join(dir, 'bad.onnx');
    await writeFile(bad, 'not a model');
    const err = await readOnnxModelFile(bad).catch((e: unknown) => e);
    expect(isFerryError(err)).toBe(true);
    expect((err as { code: string }).code).toBe('FERRY_E_MODEL_INVALID');
    expect((err as Error).message).toContain(bad);
    expect((err as { details: Record<string, unknown> }).details).toMatchObject({ file: bad });
  });

  it('passes file system errors on unchanged', async () => {
    const err = await readOnnxModelFile(join(dir, 'missing.onnx')).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(isFerryError(err)).toBe(false);
  });
});

describe('speed on a ~100 MB model', () => {
  it('reads the signature of a 100 MB model much faster than hashing it (figures printed, not asserted)', async () => {
    const tensors = 100;
    const perTensor = 262_144; // float32: 1 MiB each
    const nodes = 5_000;
    const spec: OnnxModelSpec = {
      inputs: [{ name: 'x', elementType: 'float32', shape: ['batch', 16] }],
      outputs: [{ name: `h${nodes}`, elementType: 'float32', shape: ['batch', 16] }],
      initializers: Array.from({ length: tensors }, (_, i) => ({
        name: `w${i}`, elementType: 'float32' as const, dims: [512, 512], data: new Float32Array(perTensor).fill(i),
      })),
      nodes: Array.from({ length: nodes }, (_, i) => ({ opType: 'Relu', inputs: [i === 0 ? 'x' : `h${i}`], outputs: [`h${i + 1}`], name: `relu_${i}` })),
    };
    let t = performance.now();
    const bytes = buildOnnxModel(spec);
    const buildMs = performance.now() - t;
    expect(bytes.length).toBeGreaterThan(tensors * perTensor * 4);

    const runs = 5;
    const times: number[] = [];
    let info: OnnxModelInfo | undefined;
    for (let i = 0; i < runs; i++) {
      t = performance.now();
      info = readOnnxModelInfo(bytes);
      times.push(performance.now() - t);
    }
    t = performance.now();
    createHash('sha256').update(bytes).digest('hex');
    const shaMs = performance.now() - t;
    expect(info?.inputs.map((i) => i.name)).toEqual(['x']);
    expect(info?.outputs.map((o) => o.name)).toEqual([`h${nodes}`]);
    const best = Math.min(...times);
    console.info(`[onnx-reader speed] ${(bytes.length / 2 ** 20).toFixed(1)} MiB, ${tensors} initializers, ${nodes} nodes: ` +
      `build ${buildMs.toFixed(0)} ms; read best ${best.toFixed(2)} ms (runs ${times.map((x) => x.toFixed(2)).join(', ')}); ` +
      `sha256 ${shaMs.toFixed(0)} ms; read/sha256 = ${(best / shaMs).toFixed(4)}`);
  });
});

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A one-entry zip archive (APPNOTE.TXT 4.3.7 local header, 4.3.12 central directory, 4.3.16 end record). */
function zipOf(name: string, data: Uint8Array, deflate: boolean): Uint8Array {
  const nameBytes = Buffer.from(name);
  const body = deflate ? deflateRawSync(data) : Buffer.from(data);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(deflate ? 8 : 0, 8);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(body.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(deflate ? 8 : 0, 10);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(body.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  const centralOffset = local.length + nameBytes.length + body.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + nameBytes.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, nameBytes, body, central, nameBytes, end]);
}
