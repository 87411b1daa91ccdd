/**
 * Docker's multiplexed log stream (Engine API, "Attach to a container: stream format"): frames of an
 * 8-byte header (byte 0 the stream, 1 stdin, 1 stdout, 2 stderr; bytes 4-7 the payload length, big
 * endian) and the payload. Containers with a TTY send raw bytes instead, all of it stdout.
 */
export type ContainerStream = 'stdout' | 'stderr';

export interface ContainerChunk {
  readonly stream: ContainerStream;
  readonly data: Buffer;
}

const HEADER = 8;

export class ContainerLogDemux {
  readonly #raw: boolean;
  #pending: Buffer = Buffer.alloc(0);

  /** `raw`: the container has a TTY, so nothing is framed. */
  constructor(raw = false) {
    this.#raw = raw;
  }

  /** The payloads this chunk completes, in order. */
  push(chunk: Buffer): ContainerChunk[] {
    if (this.#raw) return chunk.length > 0 ? [{ stream: 'stdout', data: chunk }] : [];
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const out: ContainerChunk[] = [];
    let at = 0;
    while (this.#pending.length - at >= HEADER) {
      const kind = this.#pending.readUInt8(at);
      const length = this.#pending.readUInt32BE(at + 4);
      if (this.#pending.length - at - HEADER < length) break;
      const data = this.#pending.subarray(at + HEADER, at + HEADER + length);
      if (kind === 1 || kind === 2) out.push({ stream: kind === 2 ? 'stderr' : 'stdout', data });
      at += HEADER + length;
    }
    this.#pending = this.#pending.subarray(at);
    return out;
  }
}
