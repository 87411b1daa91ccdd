/** Re-hashing stored models: each file of each version, and its blob when it is a separate copy. */
import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { hashFile } from './hashing-copy.js';
import type { BlobStore } from './blob-store.js';
import type { ModelRecord, VerifyReport } from './model-record.js';

export async function verifyModels(records: readonly ModelRecord[], blobs: BlobStore): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, models: [], checked: 0, bytes: 0, problems: [] };
  for (const record of records) {
    report.models.push(record.id);
    for (const file of record.files) {
      const modelFile = record.kind === 'file' ? record.path : join(record.path, ...file.path.split('/'));
      const base = { model: record.id, file: file.path, expected: file.sha256 };
      const fileStat = await statOrUndefined(modelFile);
      if (!fileStat) {
        report.problems.push({ ...base, problem: 'missing', path: modelFile });
      } else {
        const { sha256, size } = await hashFile(modelFile);
        report.checked++;
        report.bytes += size;
        if (sha256 !== file.sha256) report.problems.push({ ...base, problem: 'corrupt', actual: sha256, path: modelFile });
      }
      const blob = blobs.path(file.sha256);
      const blobStat = await statOrUndefined(blob);
      if (!blobStat) {
        report.problems.push({ ...base, problem: 'blob-missing', path: blob });
      } else if (!fileStat || blobStat.ino !== fileStat.ino || blobStat.dev !== fileStat.dev) {
        const { sha256, size } = await hashFile(blob);
        report.bytes += size;
        if (sha256 !== file.sha256) report.problems.push({ ...base, problem: 'blob-corrupt', actual: sha256, path: blob });
      }
    }
  }
  report.ok = report.problems.length === 0;
  return report;
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    const st = await stat(path);
    return st.isFile() ? st : undefined;
  } catch {
    return undefined;
  }
}
