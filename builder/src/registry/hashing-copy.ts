/**
 * Copy a file and compute its sha256 in the same pass (each byte read once), with big buffers and
 * the next read overlapping the current write. Also: hash a file in place (verify).
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

export const COPY_BUFFER_BYTES = 4 * 1024 * 1024;
/** Files up to this size are copied with synchronous calls: no thread-pool round trips per small file. */
const SMALL_FILE_BYTES = 1024 * 1024;

export interface HashedFile {
  sha256: string;
  size: number;
}

/** Copies `from` to the new file `to` (created read-only, must not exist). */
export async function copyAndHash(from: string, to: string): Promise<HashedFile> {
  const hash = createHash('sha256');
  const input = await open(from, 'r');
  try {
    const inputSize = (await input.stat()).size;
    if (inputSize <= SMALL_FILE_BYTES) return copySmall(input.fd, to, inputSize);
    const output = await open(to, 'wx', 0o444);
    try {
      const bufferBytes = bufferSize(inputSize);
      let buffers = [Buffer.allocUnsafe(bufferBytes), Buffer.allocUnsafe(bufferBytes)] as const;
      let size = 0;
      let pendingWrite: Promise<unknown> = Promise.resolve();
      for (;;) {
        const buffer = buffers[0];
        const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        const chunk = buffer.subarray(0, bytesRead);
        hash.update(chunk);
        await pendingWrite;
        pendingWrite = writeAll(output, chunk);
        size += bytesRead;
        buffers = [buffers[1], buffers[0]];
      }
      await pendingWrite;
      return { sha256: hash.digest('hex'), size };
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

export async function hashFile(path: string): Promise<HashedFile> {
  const hash = createHash('sha256');
  const input = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(bufferSize((await input.stat()).size));
    let size = 0;
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { sha256: hash.digest('hex'), size };
  } finally {
    await input.close();
  }
}

function copySmall(fd: number, to: string, expectedSize: number): HashedFile {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(bufferSize(expectedSize));
  const out = openSync(to, 'wx', 0o444);
  try {
    let size = 0;
    for (;;) {
      const bytesRead = readSync(fd, buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      for (let offset = 0; offset < bytesRead;) offset += writeSync(out, buffer, offset, bytesRead - offset);
      size += bytesRead;
    }
    return { sha256: hash.digest('hex'), size };
  } finally {
    closeSync(out);
  }
}

/** Big buffers for big files; small files get a buffer just over their size (one read, then end of file). */
function bufferSize(fileSize: number): number {
  return Math.min(COPY_BUFFER_BYTES, Math.max(16 * 1024, fileSize + 1));
}

async function writeAll(output: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await output.write(chunk, offset, chunk.length - offset, null);
    offset += bytesWritten;
  }
}
