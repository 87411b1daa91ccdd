/**
 * What `ferry serve|keys|score|profile <target>` point at: an inference config file (`ferry.yaml`,
 * `.yml`, `.json`) or a registered ONNX model (`name[:version]`, served in no-code mode).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isProcessAlive } from '@ferry/builder';
import { loadInferenceConfig, noCodeConfig, parseModelRef, type InferenceConfig } from '@ferry/module';
import { cliError } from './errors.js';

export interface ServiceTarget {
  config: InferenceConfig;
  /** The absolute config path, or the model reference, as given to `ferry serve`. */
  argument: string;
}

export async function resolveServiceTarget(target: string): Promise<ServiceTarget> {
  if (existsSync(target) || /\.(ya?ml|json)$/i.test(target)) {
    const path = resolve(target);
    return { config: await loadInferenceConfig(path), argument: path };
  }
  parseModelRef(target); // a clear FERRY_E_MODEL_REF_INVALID for anything that is neither
  return { config: noCodeConfig(target), argument: target };
}

/** A running `ferry serve`, as recorded in `<workspace>/services/<name>.json` while it runs. */
export interface ServiceRecord {
  name: string;
  url: string;
  pid: number;
  auth: 'key' | 'none';
  startedAt: string;
}

function recordPath(workspace: string, name: string): string {
  return join(workspace, 'services', `${name}.json`);
}

export function writeServiceRecord(workspace: string, record: ServiceRecord): () => void {
  const file = recordPath(workspace, record.name);
  mkdirSync(join(workspace, 'services'), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(tmp, file);
  return () => {
    // Only remove the record if it is still ours (another serve of the same name may have replaced it).
    if (readServiceRecord(workspace, record.name)?.pid === record.pid) rmSync(file, { force: true });
  };
}

export function readServiceRecord(workspace: string, name: string): ServiceRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(workspace, name), 'utf8')) as ServiceRecord;
  } catch {
    return undefined;
  }
}

/** The record of a service that is running now, or FERRY_E_SERVICE_NOT_RUNNING. */
export function runningService(workspace: string, name: string): ServiceRecord {
  const record = readServiceRecord(workspace, name);
  if (record && isProcessAlive(record.pid)) return record;
  throw cliError('FERRY_E_SERVICE_NOT_RUNNING', `no \`ferry serve\` of service "${name}" is running in workspace ${workspace}`);
}
