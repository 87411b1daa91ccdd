/**
 * Model references (`name` or `name:version`) and what a resolved model looks like. The registry
 * (@ferry/builder) implements ModelResolver; the scoring runtime only consumes it, so the device
 * image never needs the registry.
 */
import type { OnnxModelInfo } from './onnx/model-info.js';
import { scoringError } from './errors.js';

/** Azure ML's model name rule (PROTOCOLS.md §7). */
export const MODEL_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9\-._]{0,254}$/;

export interface ModelRef {
  name: string;
  /** undefined means "the latest version". */
  version: number | undefined;
}

export function isValidModelName(name: string): boolean {
  return MODEL_NAME_PATTERN.test(name);
}

/**
 * Parses `name` or `name:version`. Throws FERRY_E_MODEL_REF_INVALID for anything else
 * (a bad name, a version that is not a positive integer).
 */
export function parseModelRef(text: string): ModelRef {
  const colon = text.lastIndexOf(':');
  const name = colon === -1 ? text : text.slice(0, colon);
  const versionText = colon === -1 ? undefined : text.slice(colon + 1);
  if (!isValidModelName(name)) {
    throw scoringError('FERRY_E_MODEL_REF_INVALID', `"${text}" is not a model reference: the name must match ${MODEL_NAME_PATTERN.source}`);
  }
  if (versionText === undefined) return { name, version: undefined };
  if (!/^[1-9][0-9]{0,9}$/.test(versionText)) {
    throw scoringError('FERRY_E_MODEL_REF_INVALID', `"${text}" is not a model reference: the version must be a positive integer`);
  }
  return { name, version: Number(versionText) };
}

export function formatModelRef(ref: ModelRef): string {
  return ref.version === undefined ? ref.name : `${ref.name}:${ref.version}`;
}

export interface ResolvedModel {
  name: string;
  version: number;
  /** `name:version` */
  id: string;
  /** The file of a one-file model, the folder of a folder model (Azure ML's get_model_path). */
  path: string;
  kind: 'file' | 'folder';
  framework: 'onnx' | 'custom';
  /** For ONNX models: the .onnx file to load in no-code mode (path itself for a one-file model). */
  onnxFile?: string;
  /** The signature read at registration, for ONNX models. */
  onnx?: OnnxModelInfo;
  tags: Record<string, string>;
}

export interface ModelResolver {
  /** Throws FERRY_E_MODEL_NOT_FOUND for an unknown name or version. */
  resolveModel(ref: ModelRef): ResolvedModel | Promise<ResolvedModel>;
}
