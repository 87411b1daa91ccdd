/**
 * A small, strict reader and writer for the protocol buffers wire format
 * (https://protobuf.dev/programming-guides/encoding/), enough for onnx.proto.
 *
 * Reading never copies: length-delimited fields are returned as views into the input, so a caller
 * can skip a 100 MB `raw_data` by moving an offset. Every read is bounds-checked and every failure
 * is a `WireFormatError` carrying the absolute byte offset where it happened.
 */

/** Wire types (encoding.md "Message Structure"). 3 and 4 (groups) are deprecated and refused. */
export const WireType = {
  VARINT: 0,
  I64: 1,
  LEN: 2,
  SGROUP: 3,
  EGROUP: 4,
  I32: 5,
} as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

/** Field numbers run from 1 to 2^29 - 1 (encoding.md: "field numbers ... must be at most 29 bits"). */
export const MAX_FIELD_NUMBER = 0x1fffffff;

export class WireFormatError extends Error {
  override readonly name = 'WireFormatError';
  /** Absolute offset in the buffer of the byte where the problem was found. */
  readonly offset: number;
  /** What was wrong, without the offset or path. */
  readonly reason: string;
  /** Where in the message tree, e.g. `graph.input[2].type` (empty at the top level). */
  readonly path: string;

  constructor(reason: string, offset: number, path = '') {
    super(`${path ? `${path}: ` : ''}${reason} (at byte ${offset})`);
    this.reason = reason;
    this.offset = offset;
    this.path = path;
  }

  /** The same error, located inside the field `outer` (paths are joined with dots). */
  within(outer: string): WireFormatError {
    return new WireFormatError(this.reason, this.offset, this.path ? `${outer}.${this.path}` : outer);
  }
}

export interface FieldTag {
  field: number;
  wireType: WireType;
  /** Offset of the tag's first byte. */
  offset: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * Reads one message's bytes, `[start, end)` of `bytes`. Nested messages get their own reader over
 * their slice (`message()`), so a length that overruns its parent is caught where it is declared.
 */
export class WireReader {
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
  #pos: number;
  #view: DataView | undefined;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    if (start < 0 || end > bytes.length || start > end) throw new RangeError(`bad slice [${start}, ${end}) of ${bytes.length} bytes`);
    this.bytes = bytes;
    this.start = start;
    this.end = end;
    this.#pos = start;
  }

  /** Absolute offset of the next byte to read. */
  get pos(): number {
    return this.#pos;
  }

  /** True once every byte of the slice has been read. */
  get done(): boolean {
    return this.#pos >= this.end;
  }

  /** Reads a field key: `(field_number << 3) | wire_type`, refusing field 0, groups and unknown wire types. */
  tag(): FieldTag {
    const offset = this.#pos;
    const key = this.varint();
    const wireType = key % 8;
    const field = Math.floor(key / 8);
    if (field === 0) throw new WireFormatError('field number 0 is not allowed', offset);
    if (field > MAX_FIELD_NUMBER) throw new WireFormatError(`field number ${field} is larger than 2^29 - 1`, offset);
    if (wireType === WireType.SGROUP || wireType === WireType.EGROUP) {
      throw new WireFormatError(`field ${field} uses wire type ${wireType} (group), which is not supported`, offset);
    }
    if (wireType > WireType.I32) throw new WireFormatError(`field ${field} has invalid wire type ${wireType}`, offset);
    return { field, wireType: wireType as WireType, offset };
  }

  /**
   * Reads a base-128 varint as a number. Values above 2^53 - 1 (including negative int64 values,
   * which are 10-byte varints) throw: use `uint64()`/`int64()` where those are legitimate.
   */
  varint(): number {
    const start = this.#pos;
    const bytes = this.bytes;
    // Fast path: up to 4 bytes (28 bits) with integer arithmetic.
    let result = 0;
    for (let i = 0; i < 4; i++) {
      if (this.#pos >= this.end) throw new WireFormatError('truncated varint', start);
      const b = bytes[this.#pos++] as number;
      result |= (b & 0x7f) << (7 * i);
      if (b < 0x80) return result >>> 0;
    }
    this.#pos = start;
    const big = this.uint64();
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new WireFormatError(`varint ${big} is larger than 2^53 - 1`, start);
    }
    return Number(big);
  }

  /** Reads a varint as an unsigned 64-bit integer (uint64, or the bits of an int64). */
  uint64(): bigint {
    const start = this.#pos;
    let lo = 0; // bits 0..27
    let mid = 0; // bits 28..55
    let hi = 0; // bits 56..63
    for (let i = 0; i < 10; i++) {
      if (this.#pos >= this.end) throw new WireFormatError('truncated varint', start);
      const b = this.bytes[this.#pos++] as number;
      const v = b & 0x7f;
      if (i < 4) lo |= v << (7 * i);
      else if (i < 8) mid |= v << (7 * (i - 4));
      else if (i === 8) hi |= v;
      else {
        // The 10th byte carries only bit 63.
        if (v > 1) throw new WireFormatError('varint overflows 64 bits', start);
        hi |= v << 7;
      }
      if (b < 0x80) {
        return BigInt(lo >>> 0) | (BigInt(mid >>> 0) << 28n) | (BigInt(hi >>> 0) << 56n);
      }
    }
    throw new WireFormatError('varint is longer than 10 bytes', start);
  }

  /** Reads a varint as a signed two's-complement int64 (protobuf `int64`, not `sint64`). */
  int64(): bigint {
    return BigInt.asIntN(64, this.uint64());
  }

  /** Reads an int64 that must fit in a JavaScript number (|v| <= 2^53 - 1). */
  int64Number(): number {
    const offset = this.#pos;
    const v = this.int64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new WireFormatError(`integer ${v} is outside the range of safe integers`, offset);
    }
    return Number(v);
  }

  /** Reads a protobuf `int32` (sign-extended to 64 bits on the wire when negative). */
  int32(): number {
    const offset = this.#pos;
    const v = this.int64();
    if (v > 0x7fffffffn || v < -0x80000000n) throw new WireFormatError(`value ${v} does not fit in int32`, offset);
    return Number(v);
  }

  /** Reads a varint holding a bool (0 or 1). */
  bool(): boolean {
    const offset = this.#pos;
    const v = this.uint64();
    if (v > 1n) throw new WireFormatError(`bool field holds ${v}`, offset);
    return v === 1n;
  }

  #need(n: number, what: string): number {
    const at = this.#pos;
    if (this.end - at < n) throw new WireFormatError(`truncated ${what}: needs ${n} bytes, ${this.end - at} left`, at);
    this.#pos = at + n;
    return at;
  }

  #dataView(): DataView {
    this.#view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    return this.#view;
  }

  fixed32(): number {
    return this.#dataView().getUint32(this.#need(4, 'fixed32'), true);
  }

  float(): number {
    return this.#dataView().getFloat32(this.#need(4, 'float'), true);
  }

  fixed64(): bigint {
    return this.#dataView().getBigUint64(this.#need(8, 'fixed64'), true);
  }

  double(): number {
    return this.#dataView().getFloat64(this.#need(8, 'double'), true);
  }

  /** Reads a length prefix and returns the absolute `[start, end)` of the payload, then skips it. */
  lengthDelimited(): { start: number; end: number } {
    const offset = this.#pos;
    const length = this.varint();
    const start = this.#pos;
    if (length > this.end - start) {
      throw new WireFormatError(`truncated length-delimited field: declares ${length} bytes, ${this.end - start} left`, offset);
    }
    this.#pos = start + length;
    return { start, end: start + length };
  }

  /** A view (not a copy) of a length-delimited payload. */
  bytesField(): Uint8Array {
    const { start, end } = this.lengthDelimited();
    return this.bytes.subarray(start, end);
  }

  /** A length-delimited payload decoded as strict UTF-8. */
  string(): string {
    const { start, end } = this.lengthDelimited();
    if (start === end) return '';
    try {
      return utf8.decode(this.bytes.subarray(start, end));
    } catch {
      throw new WireFormatError('string is not valid UTF-8', start);
    }
  }

  /** A reader over an embedded message's payload. */
  message(): WireReader {
    const { start, end } = this.lengthDelimited();
    return new WireReader(this.bytes, start, end);
  }

  /** Skips a field's value of the given wire type (the tag was already read). */
  skip(wireType: WireType): void {
    switch (wireType) {
      case WireType.VARINT:
        this.uint64();
        return;
      case WireType.I64:
        this.#need(8, 'fixed64');
        return;
      case WireType.LEN:
        this.lengthDelimited();
        return;
      case WireType.I32:
        this.#need(4, 'fixed32');
        return;
      default:
        throw new WireFormatError(`cannot skip wire type ${wireType}`, this.#pos);
    }
  }

  /**
   * Reads a repeated scalar field element(s): packed (one LEN field holding many values) or
   * unpacked (one value), as encoding.md requires parsers to accept both.
   */
  repeated<T>(wireType: WireType, scalarWireType: WireType, read: (r: WireReader) => T, into: T[]): void {
    if (wireType === WireType.LEN) {
      const inner = this.message();
      while (!inner.done) into.push(read(inner));
    } else if (wireType === scalarWireType) {
      into.push(read(this));
    } else {
      throw new WireFormatError(`repeated field has wire type ${wireType}, expected ${scalarWireType} or 2 (packed)`, this.#pos);
    }
  }
}

/**
 * Builds a message as a list of byte chunks so that embedding a child message or a large bytes
 * field never copies it until `finish()` concatenates everything once.
 */
export class WireWriter {
  #parts: Uint8Array[] = [];
  #chunkSize = 256;
  #buf = new Uint8Array(this.#chunkSize);
  #used = 0;
  #flushedLength = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.#flushedLength + this.#used;
  }

  #reserve(n: number): void {
    if (this.#used + n <= this.#buf.length) return;
    this.#flush();
    if (n > this.#buf.length) this.#buf = new Uint8Array(Math.max(n, this.#chunkSize));
  }

  #flush(): void {
    if (this.#used === 0) return;
    this.#parts.push(this.#buf.subarray(0, this.#used));
    this.#flushedLength += this.#used;
    // Keep writing into the rest of the current buffer when there is room; grow otherwise.
    const rest = this.#buf.length - this.#used;
    if (rest >= 64) {
      this.#buf = this.#buf.subarray(this.#used);
    } else {
      this.#chunkSize = Math.min(this.#chunkSize * 2, 64 * 1024);
      this.#buf = new Uint8Array(this.#chunkSize);
    }
    this.#used = 0;
  }

  /** Writes an unsigned varint (a number up to 2^53 - 1, or a bigint up to 2^64 - 1). */
  varint(value: number | bigint): this {
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint needs a non-negative safe integer, got ${value}`);
      this.#reserve(10);
      let v = value;
      while (v >= 0x80) {
        this.#buf[this.#used++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      this.#buf[this.#used++] = v;
      return this;
    }
    if (value < 0n || value > 0xffff_ffff_ffff_ffffn) throw new RangeError(`varint needs 0 <= v < 2^64, got ${value}`);
    this.#reserve(10);
    let v = value;
    while (v >= 0x80n) {
      this.#buf[this.#used++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.#buf[this.#used++] = Number(v);
    return this;
  }

  /** Writes an int64 varint: negative values as 10-byte two's complement. */
  int64(value: number | bigint): this {
    const big = typeof value === 'bigint' ? value : BigInt(checkSafeInteger(value));
    if (big < -(1n << 63n) || big >= 1n << 63n) throw new RangeError(`${value} does not fit in int64`);
    return this.varint(BigInt.asUintN(64, big));
  }

  tag(field: number, wireType: WireType): this {
    if (!Number.isInteger(field) || field < 1 || field > MAX_FIELD_NUMBER) throw new RangeError(`bad field number ${field}`);
    return this.varint(field * 8 + wireType);
  }

  fixed32(value: number): this {
    this.#reserve(4);
    new DataView(this.#buf.buffer, this.#buf.byteOffset).setUint32(this.#used, value, true);
    this.#used += 4;
    return this;
  }

  float(value: number): this {
    this.#reserve(4);
    new DataView(this.#buf.buffer, this.#buf.byteOffset).setFloat32(this.#used, value, true);
    this.#used += 4;
    return this;
  }

  fixed64(value: bigint): this {
    this.#reserve(8);
    new DataView(this.#buf.buffer, this.#buf.byteOffset).setBigUint64(this.#used, BigInt.asUintN(64, value), true);
    this.#used += 8;
    return this;
  }

  double(value: number): this {
    this.#reserve(8);
    new DataView(this.#buf.buffer, this.#buf.byteOffset).setFloat64(this.#used, value, true);
    this.#used += 8;
    return this;
  }

  /** Appends raw bytes (no tag, no length). Large chunks are kept by reference, not copied. */
  raw(bytes: Uint8Array): this {
    if (bytes.length >= 1024) {
      this.#flush();
      this.#parts.push(bytes);
      this.#flushedLength += bytes.length;
      return this;
    }
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#used);
    this.#used += bytes.length;
    return this;
  }

  // Field helpers: tag + value.

  uint64Field(field: number, value: number | bigint): this {
    return this.tag(field, WireType.VARINT).varint(value);
  }

  int64Field(field: number, value: number | bigint): this {
    return this.tag(field, WireType.VARINT).int64(value);
  }

  floatField(field: number, value: number): this {
    return this.tag(field, WireType.I32).float(value);
  }

  doubleField(field: number, value: number): this {
    return this.tag(field, WireType.I64).double(value);
  }

  bytesField(field: number, bytes: Uint8Array): this {
    return this.tag(field, WireType.LEN).varint(bytes.length).raw(bytes);
  }

  stringField(field: number, value: string): this {
    return this.bytesField(field, utf8Encoder.encode(value));
  }

  /** Embeds a child message (its chunks are adopted, not copied). */
  messageField(field: number, child: WireWriter): this {
    this.tag(field, WireType.LEN).varint(child.length);
    child.#flush();
    this.#flush();
    for (const part of child.#parts) this.#parts.push(part);
    this.#flushedLength += child.#flushedLength;
    return this;
  }

  /** The message's bytes, in one buffer. */
  finish(): Uint8Array {
    this.#flush();
    if (this.#parts.length === 1) return this.#parts[0] as Uint8Array;
    const out = new Uint8Array(this.#flushedLength);
    let at = 0;
    for (const part of this.#parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

function checkSafeInteger(value: number): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${value} is not a safe integer`);
  return value;
}
