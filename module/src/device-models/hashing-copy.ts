/** Synchronous copy of one file that computes its sha256 in the same pass (each byte read once). */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

const CHUNK = 1 << 20;

export function copyAndHashSync(from: string, to: string): { sha256: string; size: number } {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(CHUNK);
  const input = openSync(from, 'r');
  try {
    const output = openSync(to, 'wx', 0o644);
    try {
      let size = 0;
      for (;;) {
        const n = readSync(input, buffer, 0, CHUNK, null);
        if (n === 0) break;
        const chunk = buffer.subarray(0, n);
        hash.update(chunk);
        for (let off = 0; off < n;) off += writeSync(output, chunk, off, n - off);
        size += n;
      }
      return { sha256: hash.digest('hex'), size };
    } finally {
      closeSync(output);
    }
  } finally {
    closeSync(input);
  }
}

/** sha256 of a file's contents, read in chunks. */
export function hashFileSync(path: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(CHUNK);
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}
