/**
 * The sha256 a model is reported with (issue 4 §3 reported `model.sha256`): the one its store
 * recorded (ferry-model.json, or the hash a fetch verified) when the resolved model carries it, else
 * the hash of its .onnx file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { ResolvedModel } from '../model-ref.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export async function modelSha256(model: ResolvedModel): Promise<string | null> {
  const recorded = (model as ResolvedModel & { sha256?: unknown }).sha256 ?? model.tags['sha256'];
  if (typeof recorded === 'string' && SHA256_HEX.test(recorded.toLowerCase())) return recorded.toLowerCase();
  const file = model.onnxFile ?? (model.kind === 'file' ? model.path : undefined);
  if (file === undefined) return null;
  try {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch {
    return null;
  }
}
