/**
 * The latest messages the router stored, for the dashboard (issue 3 §6): a fixed ring of references, so
 * recording one costs a slot write; previews are made only when the page asks.
 */
import type { AcceptedMessage } from '../router/router.js';

/** Bytes of a body shown in a preview. */
export const BODY_PREVIEW_BYTES = 512;

export interface MessageView {
  /** 1 for the first message recorded, growing by one. */
  readonly seq: number;
  /** When the router accepted it (ISO 8601). */
  readonly enqueuedAt: string;
  readonly source: string;
  readonly endpoints: readonly string[];
  readonly properties: Readonly<Record<string, string>>;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly bodyBytes: number;
  /** The body's first bytes: UTF-8 text, or base64 when they are not text. */
  readonly bodyPreview: string;
  readonly bodyEncoding: 'utf-8' | 'base64';
  readonly truncated: boolean;
}

export class MessageLog {
  readonly #ring: (AcceptedMessage | undefined)[];
  #count = 0;

  constructor(capacity: number) {
    this.#ring = new Array<AcceptedMessage | undefined>(Math.max(1, capacity)).fill(undefined);
  }

  readonly record = (m: AcceptedMessage): void => {
    this.#ring[this.#count % this.#ring.length] = m;
    this.#count++;
  };

  /** The latest messages, newest first. */
  list(): MessageView[] {
    const out: MessageView[] = [];
    const n = Math.min(this.#count, this.#ring.length);
    for (let i = 0; i < n; i++) {
      const seq = this.#count - i;
      const m = this.#ring[(seq - 1) % this.#ring.length];
      if (m) out.push(view(seq, m));
    }
    return out;
  }
}

/** Whether text holds control characters other than tab, line feed and carriage return (then it is shown as base64). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) return true;
  }
  return false;
}

function view(seq: number, m: AcceptedMessage): MessageView {
  const body = m.message.body;
  const head = body.subarray(0, BODY_PREVIEW_BYTES);
  let text: string | undefined;
  try {
    // stream: a multi-byte character cut at the preview's end is left out instead of failing.
    text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: head.length < body.length });
    if (hasControl(text)) text = undefined;
  } catch {
    text = undefined;
  }
  return {
    seq,
    enqueuedAt: new Date(m.message.enqueuedAt).toISOString(),
    source: m.source,
    endpoints: m.endpoints,
    properties: m.message.properties,
    systemProperties: m.message.systemProperties,
    bodyBytes: body.length,
    bodyPreview: text ?? Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('base64'),
    bodyEncoding: text === undefined ? 'base64' : 'utf-8',
    truncated: head.length < body.length,
  };
}
