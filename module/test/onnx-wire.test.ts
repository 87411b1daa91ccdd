import { describe, expect, it } from 'vitest';
import { WireFormatError, WireReader, WireType, WireWriter } from '../src/onnx/protobuf-wire.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function errorOf(fn: () => unknown): WireFormatError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WireFormatError);
    return e as WireFormatError;
  }
  throw new Error('expected a WireFormatError');
}

// Reference encodings from the protobuf encoding guide (protobuf.dev/programming-guides/encoding):
// 150 -> 96 01; field 1 varint 150 -> 08 96 01; field 2 string "testing" -> 12 07 74 65 73 74 69 6e 67;
// int32 -2 -> fe ff ff ff ff ff ff ff ff 01 (ten bytes, sign-extended).
describe('varints', () => {
  it('decodes and encodes the guide examples', () => {
    expect(new WireReader(hex('96 01')).varint()).toBe(150);
    expect(toHex(new WireWriter().varint(150).finish())).toBe('9601');
    expect(toHex(new WireWriter().uint64Field(1, 150).finish())).toBe('089601');
    expect(toHex(new WireWriter().stringField(2, 'testing').finish())).toBe('120774657374696e67');
    expect(toHex(new WireWriter().int64(-2).finish())).toBe('feffffffffffffffff01');
    expect(new WireReader(hex('fe ff ff ff ff ff ff ff ff 01')).int64()).toBe(-2n);
    expect(new WireReader(hex('fe ff ff ff ff ff ff ff ff 01')).int32()).toBe(-2);
  });

  it('round-trips boundary values through the number and bigint paths', () => {
    const values = [0, 1, 127, 128, 16383, 16384, 2 ** 28 - 1, 2 ** 28, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 49, Number.MAX_SAFE_INTEGER];
    for (const v of values) {
      const bytes = new WireWriter().varint(v).finish();
      // Length is ceil(bits / 7), computed independently from the value.
      expect(bytes.length).toBe(Math.max(1, Math.ceil(v.toString(2).length / 7)));
      const r = new WireReader(bytes);
      expect(r.varint()).toBe(v);
      expect(r.done).toBe(true);
      expect(new WireReader(bytes).uint64()).toBe(BigInt(v));
    }
    const big = [2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];
    for (const v of big) {
      const r = new WireReader(new WireWriter().varint(v).finish());
      expect(r.uint64()).toBe(v);
      expect(r.done).toBe(true);
    }
    for (const v of [-1n, -(2n ** 63n), 2n ** 63n - 1n, -123456789012345n]) {
      const bytes = new WireWriter().int64(v).finish();
      expect(bytes.length).toBe(v < 0n ? 10 : Math.ceil(v.toString(2).length / 7));
      expect(new WireReader(bytes).int64()).toBe(v);
    }
  });

  it('refuses values a number cannot hold exactly', () => {
    const e = errorOf(() => new WireReader(new WireWriter().varint(2n ** 53n).finish()).varint());
    expect(e.offset).toBe(0);
    expect(() => new WireReader(new WireWriter().int64(-1).finish()).varint()).toThrow(WireFormatError);
    expect(() => new WireReader(new WireWriter().int64(2n ** 60n).finish()).int64Number()).toThrow(WireFormatError);
    expect(() => new WireReader(new WireWriter().int64(2n ** 31n).finish()).int32()).toThrow(WireFormatError);
  });

  it('refuses truncated, over-long and overflowing varints with the offset where they start', () => {
    const r = new WireReader(hex('08 96'));
    expect(r.tag().field).toBe(1);
    const e = errorOf(() => r.varint());
    expect(e.offset).toBe(1);
    expect(e.reason).toMatch(/truncated/);
    expect(errorOf(() => new WireReader(hex('ff ff ff ff ff ff ff ff ff 81 01')).uint64()).reason).toMatch(/longer than 10/);
    expect(errorOf(() => new WireReader(hex('ff ff ff ff ff ff ff ff ff 02')).uint64()).reason).toMatch(/overflows/);
    expect(errorOf(() => new WireReader(new Uint8Array()).varint()).offset).toBe(0);
  });

  it('refuses writing what does not fit', () => {
    expect(() => new WireWriter().varint(-1)).toThrow(RangeError);
    expect(() => new WireWriter().varint(1.5)).toThrow(RangeError);
    expect(() => new WireWriter().varint(2n ** 64n)).toThrow(RangeError);
    expect(() => new WireWriter().int64(2n ** 63n)).toThrow(RangeError);
    expect(() => new WireWriter().tag(0, WireType.VARINT)).toThrow(RangeError);
  });
});

describe('tags and wire types', () => {
  it('reads field numbers and wire types', () => {
    const w = new WireWriter().tag(1, WireType.VARINT).tag(15, WireType.LEN).tag(16, WireType.I32).tag(2 ** 29 - 1, WireType.I64);
    const r = new WireReader(w.finish());
    expect(r.tag()).toEqual({ field: 1, wireType: 0, offset: 0 });
    expect(r.tag()).toEqual({ field: 15, wireType: 2, offset: 1 });
    expect(r.tag()).toEqual({ field: 16, wireType: 5, offset: 2 });
    expect(r.tag()).toMatchObject({ field: 2 ** 29 - 1, wireType: 1, offset: 4 });
    expect(r.done).toBe(true);
  });

  it('refuses groups, invalid wire types and field 0, with the offset', () => {
    // Field 1 wire type 3 (start group) after one valid field.
    const sgroup = hex('08 01 0b');
    const r = new WireReader(sgroup);
    r.tag();
    r.varint();
    const e = errorOf(() => r.tag());
    expect(e.offset).toBe(2);
    expect(e.reason).toMatch(/group/);
    expect(errorOf(() => new WireReader(hex('0c')).tag()).reason).toMatch(/group/);
    expect(errorOf(() => new WireReader(hex('0e')).tag()).reason).toMatch(/invalid wire type 6/);
    expect(errorOf(() => new WireReader(hex('0f')).tag()).reason).toMatch(/invalid wire type 7/);
    expect(errorOf(() => new WireReader(hex('00')).tag()).reason).toMatch(/field number 0/);
    expect(errorOf(() => new WireReader(hex('80 80 80 80 20')).tag()).reason).toMatch(/2\^29/);
  });
});

describe('fixed-width and length-delimited fields', () => {
  it('round-trips fixed32, float, fixed64 and double (little-endian)', () => {
    const w = new WireWriter().fixed32(0xdeadbeef).float(1.5).fixed64(0x0102030405060708n).double(-Math.PI);
    const bytes = w.finish();
    expect(toHex(bytes.subarray(0, 4))).toBe('efbeadde');
    expect(toHex(bytes.subarray(8, 16))).toBe('0807060504030201');
    const r = new WireReader(bytes);
    expect(r.fixed32()).toBe(0xdeadbeef);
    expect(r.float()).toBe(1.5);
    expect(r.fixed64()).toBe(0x0102030405060708n);
    expect(r.double()).toBe(-Math.PI);
    expect(r.done).toBe(true);
  });

  it('refuses truncated fixed-width values', () => {
    expect(errorOf(() => new WireReader(hex('01 02 03')).fixed32()).reason).toMatch(/needs 4 bytes, 3 left/);
    const r = new WireReader(hex('01 02 03 04 05 06 07'));
    r.skip(WireType.I32);
    expect(errorOf(() => r.skip(WireType.I64)).offset).toBe(4);
  });

  it('returns views of bytes and bounded sub-readers', () => {
    const inner = new WireWriter().uint64Field(1, 7).stringField(2, 'héllo');
    const outer = new WireWriter().messageField(3, inner).bytesField(4, new Uint8Array([9, 8, 7])).finish();
    const r = new WireReader(outer);
    expect(r.tag().field).toBe(3);
    const m = r.message();
    expect(m.tag().field).toBe(1);
    expect(m.varint()).toBe(7);
    expect(m.tag().field).toBe(2);
    expect(m.string()).toBe('héllo');
    expect(m.done).toBe(true);
    expect(r.tag().field).toBe(4);
    const b = r.bytesField();
    expect([...b]).toEqual([9, 8, 7]);
    expect(b.buffer).toBe(outer.buffer);
    expect(r.done).toBe(true);
  });

  it('refuses a length that overruns the enclosing message, not just the buffer', () => {
    // Outer message (field 1, 3 bytes) holds field 2 declaring 5 bytes; the buffer itself has more.
    const bytes = hex('0a 03 12 05 00 00 00 00 00 00');
    const r = new WireReader(bytes);
    r.tag();
    const m = r.message();
    expect(m.tag()).toMatchObject({ field: 2, wireType: 2 });
    const e = errorOf(() => m.bytesField());
    expect(e.offset).toBe(3);
    expect(e.reason).toMatch(/declares 5 bytes, 1 left/);
  });

  it('refuses invalid UTF-8 in strings with the offset of the string', () => {
    const r = new WireReader(hex('12 02 c3 28'));
    r.tag();
    const e = errorOf(() => r.string());
    expect(e.offset).toBe(2);
    expect(e.reason).toMatch(/UTF-8/);
  });

  it('reads repeated scalars packed and unpacked', () => {
    const packed = new WireWriter();
    const payload = new WireWriter().varint(1).varint(300).varint(2 ** 40);
    packed.messageField(8, payload).uint64Field(8, 5);
    const r = new WireReader(packed.finish());
    const out: number[] = [];
    while (!r.done) {
      const t = r.tag();
      r.repeated(t.wireType, WireType.VARINT, (x) => x.varint(), out);
    }
    expect(out).toEqual([1, 300, 2 ** 40, 5]);
    const bad = new WireReader(new WireWriter().floatField(8, 1).finish());
    expect(() => bad.repeated(bad.tag().wireType, WireType.VARINT, (x) => x.varint(), [])).toThrow(WireFormatError);
  });

  it('keeps large chunks by reference and concatenates them once', () => {
    const big = new Uint8Array(100_000).fill(7);
    const child = new WireWriter().bytesField(1, big);
    const parent = new WireWriter().uint64Field(2, 1).messageField(3, child).uint64Field(4, 2);
    const bytes = parent.finish();
    expect(bytes.length).toBe(parent.length);
    const r = new WireReader(bytes);
    r.tag();
    r.varint();
    r.tag();
    const m = r.message();
    m.tag();
    const payload = m.bytesField();
    expect(payload.length).toBe(100_000);
    expect(payload.every((b) => b === 7)).toBe(true);
    expect(r.tag().field).toBe(4);
    expect(r.varint()).toBe(2);
    expect(r.done).toBe(true);
  });
});
