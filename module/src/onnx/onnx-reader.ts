/**
 * Reads what Ferry needs from an onnx.ModelProto (onnx/onnx.proto): IR version, opsets, producer,
 * and the graph's inputs and outputs. Nodes, initializer data and value_info are skipped without
 * being decoded, so reading a model costs time in the number of top-level fields, not its size.
 *
 * A protobuf parser accepts a lot of garbage, so this one is strict: field 0, groups and invalid
 * wire types are refused, every known field must have its declared wire type, every length must
 * fit its enclosing message, names must be valid UTF-8, and a model needs ir_version > 0, a graph
 * and at least one named output.
 */
import { readFile } from 'node:fs/promises';
import { isFerryError, scoringError } from '../errors.js';
import { elementTypeFromOnnx } from './element-type.js';
import type { Dimension, ElementType, OnnxModelInfo, OpsetImport, ValueSignature } from './model-info.js';
import { WireFormatError, WireReader, WireType } from './protobuf-wire.js';
import type { FieldTag } from './protobuf-wire.js';

/** Nesting limit for TypeProto (sequence of map of optional ...), against crafted deep inputs. */
const MAX_TYPE_DEPTH = 32;

/**
 * Reads an ONNX model's signature from its bytes.
 * @throws FerryError FERRY_E_MODEL_INVALID: the message is the parser's reason; `details` holds
 *   `offset` (byte), `field` (where in the model, e.g. `graph.input[0].type`) and `reason`.
 */
export function readOnnxModelInfo(bytes: Uint8Array): OnnxModelInfo {
  try {
    return decodeModel(bytes);
  } catch (e) {
    if (e instanceof WireFormatError) {
      // The reason is the parser's own message (path in the model, what is wrong, byte offset);
      // callers add what they were reading.
      throw scoringError('FERRY_E_MODEL_INVALID', `${e.message}.`, {
        cause: e,
        details: { offset: e.offset, field: e.path, reason: e.reason },
      });
    }
    throw e;
  }
}

/**
 * Reads an ONNX model file's signature. File system errors (missing file, a folder...) are passed on
 * unchanged; a file that is not an ONNX model gives FERRY_E_MODEL_INVALID naming the file.
 */
export async function readOnnxModelFile(path: string): Promise<OnnxModelInfo> {
  const bytes = await readFile(path);
  try {
    return readOnnxModelInfo(bytes);
  } catch (e) {
    if (isFerryError(e) && e.code === 'FERRY_E_MODEL_INVALID') {
      throw scoringError('FERRY_E_MODEL_INVALID', `${path} is not a readable ONNX model: ${e.reason}`, {
        cause: e.cause ?? e,
        details: { ...e.details, file: path },
      });
    }
    throw e;
  }
}

/** Adds the message path (e.g. `graph.input[2].type`) to an error raised inside it. */
function within<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof WireFormatError) throw e.within(path);
    throw e;
  }
}

function expectWireType(tag: FieldTag, wireType: WireType, name: string): void {
  if (tag.wireType !== wireType) {
    throw new WireFormatError(`field ${tag.field} (${name}) has wire type ${tag.wireType}, expected ${wireType}`, tag.offset);
  }
}

interface GraphInfo {
  name: string;
  docString: string;
  inputs: ValueSignature[];
  outputs: ValueSignature[];
  offset: number;
}

function decodeModel(bytes: Uint8Array): OnnxModelInfo {
  if (bytes.length === 0) throw new WireFormatError('the file is empty', 0);
  const r = new WireReader(bytes);
  let irVersion: number | undefined;
  const opsets: OpsetImport[] = [];
  let producerName = '';
  let producerVersion = '';
  let domain = '';
  let modelVersion = 0;
  let docString = '';
  let graph: GraphInfo | undefined;
  const metadata: [string, string][] = [];

  // ModelProto fields: ir_version=1, producer_name=2, producer_version=3, domain=4, model_version=5,
  // doc_string=6, graph=7, opset_import=8, metadata_props=14.
  while (!r.done) {
    const tag = r.tag();
    switch (tag.field) {
      case 1:
        expectWireType(tag, WireType.VARINT, 'ir_version');
        irVersion = within('ir_version', () => r.int64Number());
        break;
      case 2:
        expectWireType(tag, WireType.LEN, 'producer_name');
        producerName = within('producer_name', () => r.string());
        break;
      case 3:
        expectWireType(tag, WireType.LEN, 'producer_version');
        producerVersion = within('producer_version', () => r.string());
        break;
      case 4:
        expectWireType(tag, WireType.LEN, 'domain');
        domain = within('domain', () => r.string());
        break;
      case 5:
        expectWireType(tag, WireType.VARINT, 'model_version');
        modelVersion = within('model_version', () => r.int64Number());
        break;
      case 6:
        expectWireType(tag, WireType.LEN, 'doc_string');
        docString = within('doc_string', () => r.string());
        break;
      case 7:
        expectWireType(tag, WireType.LEN, 'graph');
        // A serializer writes a singular message once; a second one is a sign of garbage.
        if (graph) throw new WireFormatError('graph appears twice', tag.offset);
        graph = within('graph', () => decodeGraph(r.message(), tag.offset));
        break;
      case 8:
        expectWireType(tag, WireType.LEN, 'opset_import');
        opsets.push(within(`opset_import[${opsets.length}]`, () => decodeOpset(r.message())));
        break;
      case 14:
        expectWireType(tag, WireType.LEN, 'metadata_props');
        metadata.push(within(`metadata_props[${metadata.length}]`, () => decodeStringEntry(r.message())));
        break;
      default:
        r.skip(tag.wireType);
    }
  }

  if (irVersion === undefined) throw new WireFormatError('ModelProto has no ir_version', 0);
  if (irVersion <= 0) throw new WireFormatError(`ir_version is ${irVersion}, expected a positive version`, 0);
  if (!graph) throw new WireFormatError('ModelProto has no graph', 0);
  // IR v3+: "All ModelProtos MUST have at least one entry" in opset_import (onnx.proto).
  if (irVersion >= 3 && opsets.length === 0) throw new WireFormatError('ModelProto has no opset_import', bytes.length);
  if (graph.outputs.length === 0) throw new WireFormatError('graph has no outputs', graph.offset);

  const defaultOpset = opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  return {
    irVersion,
    opsets,
    opset: defaultOpset ? defaultOpset.version : null,
    producerName,
    producerVersion,
    domain,
    modelVersion,
    docString,
    graphName: graph.name,
    inputs: graph.inputs,
    outputs: graph.outputs,
    metadata: Object.fromEntries(metadata),
  };
}

/** OperatorSetIdProto: domain=1, version=2. */
function decodeOpset(r: WireReader): OpsetImport {
  let domain = '';
  let version: number | undefined;
  while (!r.done) {
    const tag = r.tag();
    if (tag.field === 1) {
      expectWireType(tag, WireType.LEN, 'domain');
      domain = r.string();
    } else if (tag.field === 2) {
      expectWireType(tag, WireType.VARINT, 'version');
      version = r.int64Number();
    } else {
      r.skip(tag.wireType);
    }
  }
  if (version === undefined) throw new WireFormatError('opset import has no version', r.start);
  return { domain, version };
}

/** StringStringEntryProto: key=1, value=2. */
function decodeStringEntry(r: WireReader): [string, string] {
  let key = '';
  let value = '';
  while (!r.done) {
    const tag = r.tag();
    if (tag.field === 1) {
      expectWireType(tag, WireType.LEN, 'key');
      key = r.string();
    } else if (tag.field === 2) {
      expectWireType(tag, WireType.LEN, 'value');
      value = r.string();
    } else {
      r.skip(tag.wireType);
    }
  }
  return [key, value];
}

/**
 * GraphProto: node=1, name=2, initializer=5, doc_string=10, input=11, output=12, value_info=13,
 * sparse_initializer=15.
 */
function decodeGraph(r: WireReader, offset: number): GraphInfo {
  let name = '';
  let docString = '';
  const allInputs: ValueSignature[] = [];
  const outputs: ValueSignature[] = [];
  const initializers = new Set<string>();
  let nodes = 0;
  while (!r.done) {
    const tag = r.tag();
    switch (tag.field) {
      case 1:
        // Nodes are not needed for the signature: skip them whole.
        expectWireType(tag, WireType.LEN, 'node');
        within(`node[${nodes++}]`, () => r.lengthDelimited());
        break;
      case 2:
        expectWireType(tag, WireType.LEN, 'name');
        name = within('name', () => r.string());
        break;
      case 5:
        expectWireType(tag, WireType.LEN, 'initializer');
        initializers.add(within(`initializer[${initializers.size}]`, () => decodeTensorName(r.message())));
        break;
      case 10:
        expectWireType(tag, WireType.LEN, 'doc_string');
        docString = within('doc_string', () => r.string());
        break;
      case 11:
        expectWireType(tag, WireType.LEN, 'input');
        allInputs.push(within(`input[${allInputs.length}]`, () => decodeValueInfo(r.message())));
        break;
      case 12:
        expectWireType(tag, WireType.LEN, 'output');
        outputs.push(within(`output[${outputs.length}]`, () => decodeValueInfo(r.message())));
        break;
      case 13:
        expectWireType(tag, WireType.LEN, 'value_info');
        r.lengthDelimited();
        break;
      case 15:
        expectWireType(tag, WireType.LEN, 'sparse_initializer');
        initializers.add(within('sparse_initializer', () => decodeSparseTensorName(r.message())));
        break;
      default:
        r.skip(tag.wireType);
    }
  }
  // IR v4+: initializers need not be inputs; those that are, are optional with a default, and a
  // caller does not have to feed them.
  const inputs = allInputs.filter((i) => !initializers.has(i.name));
  return { name, docString, inputs, outputs, offset };
}

/** TensorProto: only name=8 is read; dims, data and raw_data are skipped. */
function decodeTensorName(r: WireReader): string {
  let name = '';
  while (!r.done) {
    const tag = r.tag();
    if (tag.field === 8) {
      expectWireType(tag, WireType.LEN, 'name');
      name = r.string();
    } else {
      r.skip(tag.wireType);
    }
  }
  return name;
}

/** SparseTensorProto: values=1 (a TensorProto whose name is the sparse tensor's name). */
function decodeSparseTensorName(r: WireReader): string {
  let name = '';
  while (!r.done) {
    const tag = r.tag();
    if (tag.field === 1) {
      expectWireType(tag, WireType.LEN, 'values');
      name = within('values', () => decodeTensorName(r.message()));
    } else {
      r.skip(tag.wireType);
    }
  }
  return name;
}

interface DecodedType {
  kind: ValueSignature['kind'];
  elementType: ElementType;
  shape: Dimension[] | null;
}

const UNKNOWN_TYPE: DecodedType = { kind: 'unknown', elementType: 'undefined', shape: null };

/** ValueInfoProto: name=1, type=2, doc_string=3. */
function decodeValueInfo(r: WireReader): ValueSignature {
  let name = '';
  let type: DecodedType = UNKNOWN_TYPE;
  let docString = '';
  while (!r.done) {
    const tag = r.tag();
    switch (tag.field) {
      case 1:
        expectWireType(tag, WireType.LEN, 'name');
        name = r.string();
        break;
      case 2:
        expectWireType(tag, WireType.LEN, 'type');
        type = within('type', () => decodeType(r.message(), 0));
        break;
      case 3:
        expectWireType(tag, WireType.LEN, 'doc_string');
        docString = r.string();
        break;
      default:
        r.skip(tag.wireType);
    }
  }
  // ValueInfoProto.name "MUST be present in this version of the IR".
  if (name === '') throw new WireFormatError('value has no name', r.start);
  const signature: ValueSignature = { name, kind: type.kind, elementType: type.elementType, shape: type.shape };
  if (docString !== '') signature.docString = docString;
  return signature;
}

/**
 * TypeProto: tensor_type=1, sequence_type=4, map_type=5, opaque_type=7, sparse_tensor_type=8,
 * optional_type=9, denotation=6. For sequences and optionals the element type and shape are the
 * inner tensor's; for maps, the value's element type.
 */
function decodeType(r: WireReader, depth: number): DecodedType {
  if (depth > MAX_TYPE_DEPTH) throw new WireFormatError(`type nests deeper than ${MAX_TYPE_DEPTH} levels`, r.start);
  let type: DecodedType = UNKNOWN_TYPE;
  while (!r.done) {
    const tag = r.tag();
    switch (tag.field) {
      case 1:
        expectWireType(tag, WireType.LEN, 'tensor_type');
        type = { kind: 'tensor', ...within('tensor_type', () => decodeTensorType(r.message())) };
        break;
      case 8:
        expectWireType(tag, WireType.LEN, 'sparse_tensor_type');
        type = { kind: 'sparse_tensor', ...within('sparse_tensor_type', () => decodeTensorType(r.message())) };
        break;
      case 4:
      case 9: {
        // Sequence and Optional: elem_type=1 (a TypeProto).
        const kind = tag.field === 4 ? 'sequence' : 'optional';
        expectWireType(tag, WireType.LEN, `${kind}_type`);
        const inner = within(`${kind}_type`, () => decodeWrappedType(r.message(), 1, depth));
        type = { kind, elementType: inner.elementType, shape: inner.shape };
        break;
      }
      case 5: {
        // Map: key_type=1, value_type=2.
        expectWireType(tag, WireType.LEN, 'map_type');
        const value = within('map_type', () => decodeWrappedType(r.message(), 2, depth));
        type = { kind: 'map', elementType: value.elementType, shape: null };
        break;
      }
      case 7:
        expectWireType(tag, WireType.LEN, 'opaque_type');
        r.lengthDelimited();
        type = UNKNOWN_TYPE;
        break;
      default:
        r.skip(tag.wireType);
    }
  }
  return type;
}

/** Reads the TypeProto held in field `field` of a Sequence/Optional/Map message. */
function decodeWrappedType(r: WireReader, field: number, depth: number): DecodedType {
  let inner: DecodedType = UNKNOWN_TYPE;
  while (!r.done) {
    const tag = r.tag();
    if (tag.field === field) {
      expectWireType(tag, WireType.LEN, 'elem_type');
      inner = decodeType(r.message(), depth + 1);
    } else {
      r.skip(tag.wireType);
    }
  }
  return inner;
}

/** TypeProto.Tensor / TypeProto.SparseTensor: elem_type=1, shape=2. */
function decodeTensorType(r: WireReader): { elementType: ElementType; shape: Dimension[] | null } {
  let elementType: ElementType = 'undefined';
  let shape: Dimension[] | null = null;
  while (!r.done) {
    const tag = r.tag();
    if (tag.field === 1) {
      expectWireType(tag, WireType.VARINT, 'elem_type');
      elementType = elementTypeFromOnnx(r.int32());
    } else if (tag.field === 2) {
      expectWireType(tag, WireType.LEN, 'shape');
      shape = within('shape', () => decodeShape(r.message()));
    } else {
      r.skip(tag.wireType);
    }
  }
  return { elementType, shape };
}

/** TensorShapeProto: dim=1. */
function decodeShape(r: WireReader): Dimension[] {
  const dims: Dimension[] = [];
  while (!r.done) {
    const tag = r.tag();
    if (tag.field === 1) {
      expectWireType(tag, WireType.LEN, 'dim');
      dims.push(within(`dim[${dims.length}]`, () => decodeDimension(r.message())));
    } else {
      r.skip(tag.wireType);
    }
  }
  return dims;
}

/** TensorShapeProto.Dimension: dim_value=1 | dim_param=2 (a oneof: the last one wins), denotation=3. */
function decodeDimension(r: WireReader): Dimension {
  let dim: Dimension = null;
  while (!r.done) {
    const tag = r.tag();
    if (tag.field === 1) {
      expectWireType(tag, WireType.VARINT, 'dim_value');
      const v = r.int64Number();
      // Some exporters write -1 for "unknown": that is an unnamed dimension.
      dim = v >= 0 ? v : null;
    } else if (tag.field === 2) {
      expectWireType(tag, WireType.LEN, 'dim_param');
      const p = r.string();
      dim = p === '' ? null : p;
    } else {
      r.skip(tag.wireType);
    }
  }
  return dim;
}
