/** The registry's public data shapes. Everything here is plain JSON (`--json` prints it as is). */
import type { OnnxModelInfo } from '@ferry/module';

export type ModelFramework = 'onnx' | 'custom';
export type ModelKind = 'file' | 'folder';
export type UsageKind = 'build' | 'deployment';

export interface ModelFile {
  /** Relative to the model's folder for a folder model; the file name for a one-file model. '/'-separated. */
  path: string;
  size: number;
  /** Lowercase hex sha256 of the contents. */
  sha256: string;
}

export interface ModelRecord {
  /** `name:version` */
  id: string;
  name: string;
  version: number;
  description: string;
  framework: ModelFramework;
  kind: ModelKind;
  /** Absolute: the file of a one-file model, the folder of a folder model (Azure ML's get_model_path). */
  path: string;
  tags: Record<string, string>;
  properties: Record<string, string>;
  /** ISO 8601, UTC. */
  createdAt: string;
  /** Total bytes of all files. */
  size: number;
  /** sha256 of the `sha256sum`-style listing (`<hex>  <path>\n` per file, sorted by path bytes). */
  sha256: string;
  /** Sorted by path. */
  files: ModelFile[];
  /** The primary ONNX file's signature (the only .onnx file, or the one named model.onnx). */
  onnx?: OnnxModelInfo;
  /** Absolute path of the primary ONNX file, when there is one. */
  onnxFile?: string;
  /** Every ONNX file's signature, by ModelFile.path. */
  onnxFiles?: Record<string, OnnxModelInfo>;
}

export interface RegisterOptions {
  name: string;
  tags?: Record<string, string>;
  properties?: Record<string, string>;
  description?: string;
  /** Default: 'onnx' for a .onnx file or a folder holding .onnx files, else 'custom'. */
  framework?: ModelFramework;
}

export interface TagFilter {
  key: string;
  /** Omitted: the model has the tag, whatever its value. */
  value?: string;
}

export interface ListFilter {
  name?: string;
  tags?: TagFilter[];
  properties?: Record<string, string>;
  /** Keep only the newest matching version of each name. */
  latest?: boolean;
}

export interface ModelChanges {
  addTags?: Record<string, string>;
  removeTags?: string[];
  /** Add-only: a key that exists with another value is refused (FERRY_E_MODEL_PROPERTY_IMMUTABLE). */
  addProperties?: Record<string, string>;
  description?: string;
}

export interface ModelUsage {
  kind: UsageKind;
  id: string;
}

export interface RecordedUsage extends ModelUsage {
  /** `name:version` of the model used. */
  modelId: string;
  createdAt: string;
}

export interface DownloadOptions {
  /** Replace an existing file or folder at the destination (atomically: written beside, then renamed). */
  overwrite?: boolean;
}

export interface VerifyProblem {
  /** `name:version` */
  model: string;
  /** ModelFile.path */
  file: string;
  /** Absolute path of the file found wanting. */
  path: string;
  /**
   * missing: the model's file is gone; corrupt: its contents no longer match the recorded sha256;
   * blob-missing / blob-corrupt: the same for the content-addressed copy in the blob store.
   */
  problem: 'missing' | 'corrupt' | 'blob-missing' | 'blob-corrupt';
  /** Recorded sha256. */
  expected: string;
  /** sha256 found, for corrupt files. */
  actual?: string;
}

export interface VerifyReport {
  /** True when no problem was found. */
  ok: boolean;
  /** Ids (`name:version`) of the versions checked. */
  models: string[];
  /** Files re-hashed. */
  checked: number;
  /** Bytes re-hashed. */
  bytes: number;
  problems: VerifyProblem[];
}

export interface GarbageReport {
  /** Staging folders of registrations whose process is gone. */
  staging: number;
  /** Version folders no registry row refers to. */
  orphanVersions: number;
  /** Blobs no registered file refers to. */
  blobs: number;
  bytes: number;
}
