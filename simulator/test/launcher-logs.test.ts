/** The launcher's output plumbing on plain data: line splitting and the bounded log buffer with follow mode. */
import { describe, expect, it } from 'vitest';
import { LineSplitter, MAX_LINE_CHARS } from '../src/launcher/line-splitter.js';
import { LogBuffer, type LogLine } from '../src/launcher/log-buffer.js';

describe('LineSplitter', () => {
  it('splits on \\n and \\r\\n, keeps empty lines, holds a partial line until it ends', () => {
    const s = new LineSplitter();
    expect(s.push(Buffer.from('a\r\nb\n\nc'))).toEqual(['a', 'b', '']);
    expect(s.push(Buffer.from('d\r'))).toEqual([]);
    expect(s.push(Buffer.from('\ne\n'))).toEqual(['cd', 'e']);
    expect(s.push(Buffer.from('tail'))).toEqual([]);
    expect(s.end()).toEqual(['tail']);
    expect(s.end()).toEqual([]);
  });

  it('decodes UTF-8 characters split across chunks', () => {
    const bytes = Buffer.from('héllo → wörld\n');
    const s = new LineSplitter();
    const out = [...bytes].flatMap((b) => s.push(Buffer.from([b])));
    expect(out).toEqual(['héllo → wörld']);
  });

  it('cuts a runaway line into bounded pieces', () => {
    const s = new LineSplitter();
    const long = 'x'.repeat(MAX_LINE_CHARS * 2 + 10);
    const first = s.push(Buffer.from(long));
    expect(first).toEqual(['x'.repeat(MAX_LINE_CHARS), 'x'.repeat(MAX_LINE_CHARS)]);
    expect(s.push(Buffer.from('\n'))).toEqual(['x'.repeat(10)]);
  });
});

describe('LogBuffer', () => {
  it('keeps the last N lines with increasing seq', () => {
    const b = new LogBuffer(3);
    for (let i = 0; i < 5; i++) b.push('stdout', `l${i}`);
    expect(b.since().map((l) => [l.seq, l.text])).toEqual([[2, 'l2'], [3, 'l3'], [4, 'l4']]);
    expect(b.since(4).map((l) => l.text)).toEqual(['l4']);
    expect([b.firstSeq, b.nextSeq]).toEqual([2, 5]);
    expect(() => new LogBuffer(0)).toThrow(RangeError);
  });

  it('follow yields buffered lines, then new ones, and ends on close', async () => {
    const b = new LogBuffer(10);
    b.push('stdout', 'old');
    const seen: LogLine[] = [];
    const reading = (async () => { for await (const l of b.follow()) seen.push(l); })();
    await new Promise((r) => setTimeout(r, 5));
    b.push('stderr', 'new1');
    b.push('launcher', 'new2');
    await new Promise((r) => setTimeout(r, 5));
    b.push('stdout', 'new3');
    b.close();
    await reading;
    expect(seen.map((l) => `${l.stream}:${l.text}`)).toEqual(['stdout:old', 'stderr:new1', 'launcher:new2', 'stdout:new3']);
  });

  it('a slow follower skips lines that fell out of the buffer instead of holding them', async () => {
    const b = new LogBuffer(2);
    b.push('stdout', 'a');
    const it = b.follow();
    expect((await it.next()).value).toMatchObject({ text: 'a' });
    for (const t of ['b', 'c', 'd']) b.push('stdout', t);
    expect((await it.next()).value).toMatchObject({ text: 'c', seq: 2 });
    expect((await it.next()).value).toMatchObject({ text: 'd', seq: 3 });
    const pending = it.next();
    const controller = new AbortController();
    b.push('stdout', 'e');
    expect((await pending).value).toMatchObject({ text: 'e' });
    const aborted = b.follow({ fromSeq: 5, signal: controller.signal });
    const waiting = aborted.next();
    controller.abort();
    expect((await waiting).done).toBe(true);
  });
});
