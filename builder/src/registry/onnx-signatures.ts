/**
 * ONNX at registration: which files are ONNX, reading each one's signature with @ferry/module's
 * parser, and choosing the primary file that no-code serving loads.
 */
import { readFile } from 'node:fs/promises';
import { isFerryError, readOnnxModelInfo } from '@ferry/module';
import type { OnnxModelInfo } from '@ferry/module';
import { registryError } from '../errors.js';

export function isOnnxFileName(path: string): boolean {
  return path.toLowerCase().endsWith('.onnx');
}

/** Reads one file's signature; anything unreadable is FERRY_E_MODEL_INVALID with the parser's reason. */
export async function readSignature(file: string, shownAs: string): Promise<OnnxModelInfo> {
  const bytes = await readFile(file);
  try {
    return readOnnxModelInfo(bytes);
  } catch (cause) {
    const coded = isFerryError(cause);
    const reason = coded ? cause.reason : (cause as Error)?.message ?? String(cause);
    const details = { ...(coded ? cause.details : {}), path: shownAs };
    throw registryError('FERRY_E_MODEL_INVALID', `${shownAs} is not a readable ONNX model: ${reason}`, { cause, details });
  }
}

/** The only ONNX file, else the top-level model.onnx, else the only file named model.onnx, else none. */
export function choosePrimary(onnxPaths: readonly string[]): string | undefined {
  if (onnxPaths.length === 1) return onnxPaths[0];
  if (onnxPaths.includes('model.onnx')) return 'model.onnx';
  const named = onnxPaths.filter((p) => p === 'model.onnx' || p.endsWith('/model.onnx'));
  return named.length === 1 ? named[0] : undefined;
}
