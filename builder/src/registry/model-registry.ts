/**
 * The model registry: Azure ML's model registry semantics (PROTOCOLS.md §7) over a workspace folder.
 *
 *   <ws>/registry.db                       SQLite (WAL): names, versions, files, tags, properties, usages
 *   <ws>/blobs/sha256/<2 hex>/<hex>        file contents, content-addressed, read-only, stored once
 *   <ws>/models/<name>/<version>/<entry>   each version's file or folder: hard links to the blobs
 *   <ws>/staging/<pid>-<random>/           registrations and deletions in progress
 *
 * A registration is staged outside the visible tree (staging.ts); then one BEGIN IMMEDIATE transaction
 * allocates the version, writes the rows and renames the staged tree into place. A process killed at
 * any moment leaves either nothing visible or the whole version; a version folder left behind without
 * its rows (killed between rename and COMMIT) is overwritten by the next registration of that name.
 */
import { mkdirSync, readdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { isValidModelName, parseModelRef, formatModelRef, MODEL_NAME_PATTERN } from '@ferry/module';
import type { ModelRef, ModelResolver, OnnxModelInfo, ResolvedModel } from '@ferry/module';
import { registryError } from '../errors.js';
import { BlobStore } from './blob-store.js';
import { downloadModel } from './download.js';
import { checkDescription, checkFramework, checkKey, checkKeyValues, checkUsage } from './metadata-validation.js';
import type {
  DownloadOptions, GarbageReport, ListFilter, ModelChanges, ModelFramework, ModelKind, ModelRecord, ModelUsage,
  RecordedUsage, RegisterOptions, UsageKind, VerifyReport,
} from './model-record.js';
import { openRegistryDatabase, wrapSqliteError } from './registry-database.js';
import { removeStaleStaging, stageModel } from './staging.js';
import type { StagedModel } from './staging.js';
import { verifyModels } from './verify.js';

interface ModelRow {
  id: number;
  name: string;
  version: number;
  description: string;
  framework: ModelFramework;
  kind: ModelKind;
  entry: string;
  created_at: string;
  size: number;
  sha256: string;
  primary_onnx: string | null;
}

export class ModelRegistry implements ModelResolver {
  readonly #workspace: string;
  readonly #db: Database.Database;
  readonly #blobs: BlobStore;
  readonly #modelsRoot: string;
  readonly #stagingRoot: string;

  private constructor(workspace: string, db: Database.Database) {
    this.#workspace = workspace;
    this.#db = db;
    this.#blobs = new BlobStore(join(workspace, 'blobs'));
    this.#modelsRoot = join(workspace, 'models');
    this.#stagingRoot = join(workspace, 'staging');
  }

  /** Opens (creating if needed) the registry of a workspace folder (see resolveWorkspace). */
  static open(workspace: string): ModelRegistry {
    const ws = resolve(workspace);
    try {
      for (const dir of [ws, join(ws, 'blobs', 'sha256'), join(ws, 'models'), join(ws, 'staging')]) mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw registryError('FERRY_E_REGISTRY_IO', `Creating the workspace ${ws} failed: ${(cause as Error).message}`, { cause });
    }
    return new ModelRegistry(ws, openRegistryDatabase(join(ws, 'registry.db')));
  }

  get workspace(): string {
    return this.#workspace;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  /** Registers a file or folder as the next version of `opts.name`. */
  async register(source: string, opts: RegisterOptions): Promise<ModelRecord> {
    const name = checkName(opts?.name);
    const tags = checkKeyValues('tag', opts.tags);
    const properties = checkKeyValues('property', opts.properties);
    const description = checkDescription(opts.description);
    checkFramework(opts.framework);

    await removeStaleStaging(this.#stagingRoot);
    const createdBlobs: string[] = [];
    let staged: StagedModel | undefined;
    try {
      staged = await stageModel(this.#stagingRoot, this.#blobs, source, opts.framework, createdBlobs);
      const version = this.#commit(staged, name, tags, properties, description);
      await rm(staged.dir, { recursive: true, force: true }).catch(() => undefined);
      return this.get({ name, version });
    } catch (e) {
      if (staged) await rm(staged.dir, { recursive: true, force: true }).catch(() => undefined);
      if (createdBlobs.length > 0) {
        try {
          this.#removeUnreferencedBlobs(createdBlobs);
        } catch {
          // leave them to collectGarbage(); the registration's own error matters more
        }
      }
      throw e;
    }
  }

  /** Models matching every given filter, sorted by name, then newest version first. */
  list(filter: ListFilter = {}): ModelRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.name !== undefined) {
      where.push('m.name = ?');
      params.push(filter.name);
    }
    for (const tag of filter.tags ?? []) {
      checkKey('tag', tag?.key);
      if (tag.value === undefined) {
        where.push('EXISTS (SELECT 1 FROM model_tags t WHERE t.model_id = m.id AND t.key = ?)');
        params.push(tag.key);
      } else {
        where.push('EXISTS (SELECT 1 FROM model_tags t WHERE t.model_id = m.id AND t.key = ? AND t.value = ?)');
        params.push(tag.key, tag.value);
      }
    }
    for (const [key, value] of Object.entries(filter.properties ?? {})) {
      checkKey('property', key);
      where.push('EXISTS (SELECT 1 FROM model_properties p WHERE p.model_id = m.id AND p.key = ? AND p.value = ?)');
      params.push(key, value);
    }
    const sql = `SELECT m.* FROM models m ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY m.name, m.version DESC`;
    let rows = this.#read(() => this.#db.prepare(sql).all(...params) as ModelRow[], 'listing models');
    if (filter.latest) rows = rows.filter((row, i) => i === 0 || rows[i - 1]?.name !== row.name);
    return rows.map((row) => this.#toRecord(row));
  }

  /** One version; the latest when the reference has no version. FERRY_E_MODEL_NOT_FOUND otherwise. */
  get(ref: string | ModelRef): ModelRecord {
    return this.#toRecord(this.#findRow(toRef(ref)));
  }

  /** ModelResolver for the scoring runtime. */
  resolveModel(ref: ModelRef): ResolvedModel {
    const record = this.get(ref);
    const resolved: ResolvedModel = {
      name: record.name, version: record.version, id: record.id, path: record.path, kind: record.kind,
      framework: record.framework, tags: record.tags,
    };
    if (record.onnxFile !== undefined) resolved.onnxFile = record.onnxFile;
    if (record.onnx !== undefined) resolved.onnx = record.onnx;
    return resolved;
  }

  /** The file of a one-file model, the folder of a folder model. */
  path(ref: string | ModelRef): string {
    return this.get(ref).path;
  }

  /** Copies the model's file or folder to `<outDir>/<its name>`. */
  async download(ref: string | ModelRef, outDir: string, opts: DownloadOptions = {}): Promise<{ path: string }> {
    return downloadModel(this.get(ref), outDir, opts);
  }

  /** Edits tags and description, adds properties (add-only). Needs `name:version`. */
  update(ref: string | ModelRef, changes: ModelChanges): ModelRecord {
    const target = requireVersion(toRef(ref), 'update');
    const addTags = checkKeyValues('tag', changes.addTags);
    const addProperties = checkKeyValues('property', changes.addProperties);
    const removeTags = changes.removeTags ?? [];
    for (const key of removeTags) checkKey('tag', key);
    const description = changes.description === undefined ? undefined : checkDescription(changes.description);

    this.#write(() => {
      const row = this.#findRow(target);
      for (const [key, value] of Object.entries(addProperties)) {
        const current = this.#db.prepare('SELECT value FROM model_properties WHERE model_id = ? AND key = ?').get(row.id, key) as { value: string } | undefined;
        if (current && current.value !== value) {
          throw registryError('FERRY_E_MODEL_PROPERTY_IMMUTABLE', `${formatModelRef(target)} already has the property ${key}=${current.value}`, { details: { key, value: current.value } });
        }
        if (!current) this.#db.prepare('INSERT INTO model_properties (model_id, key, value) VALUES (?, ?, ?)').run(row.id, key, value);
      }
      for (const key of removeTags) this.#db.prepare('DELETE FROM model_tags WHERE model_id = ? AND key = ?').run(row.id, key);
      for (const [key, value] of Object.entries(addTags)) {
        this.#db.prepare('INSERT INTO model_tags (model_id, key, value) VALUES (?, ?, ?) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value').run(row.id, key, value);
      }
      if (description !== undefined) this.#db.prepare('UPDATE models SET description = ? WHERE id = ?').run(description, row.id);
    }, `updating ${formatModelRef(target)}`);
    return this.get(target);
  }

  /**
   * Deletes one version (`name:version`). Refused with FERRY_E_MODEL_IN_USE while a recorded build or
   * deployment uses it, unless `force`. Its version number is never given out again.
   */
  delete(ref: string | ModelRef, opts: { force?: boolean } = {}): void {
    const target = requireVersion(toRef(ref), 'delete');
    let digests: string[] = [];
    let entryDir = '';
    this.#write(() => {
      const row = this.#findRow(target);
      const usages = this.#db.prepare('SELECT kind, usage_id AS id FROM model_usages WHERE model_id = ?').all(row.id) as ModelUsage[];
      if (usages.length > 0 && !opts.force) {
        const list = usages.map((u) => `${u.kind} ${u.id}`).join(', ');
        throw registryError('FERRY_E_MODEL_IN_USE', `${formatModelRef(target)} is used by ${list}`, { details: { usages } });
      }
      digests = (this.#db.prepare('SELECT DISTINCT sha256 FROM model_files WHERE model_id = ?').all(row.id) as Array<{ sha256: string }>).map((r) => r.sha256);
      entryDir = this.#versionDir(row.name, row.version);
      this.#db.prepare('DELETE FROM models WHERE id = ?').run(row.id);
    }, `deleting ${formatModelRef(target)}`);
    // Committed: the version is gone. Its folder goes next (a crash here leaves an orphan folder that
    // the next registration of the name or collectGarbage() removes), then the blobs nothing else uses.
    this.#discard(entryDir);
    try {
      rmdirSync(join(this.#modelsRoot, target.name));
    } catch {
      // other versions remain
    }
    this.#removeUnreferencedBlobs(digests);
  }

  /**
   * Records that a build or deployment uses a model (the latest version when none is given);
   * idempotent. Returns what was recorded.
   */
  recordUsage(ref: string | ModelRef, usage: ModelUsage): RecordedUsage {
    checkUsage(usage);
    const target = toRef(ref);
    return this.#write(() => {
      const row = this.#findRow(target);
      const createdAt = new Date().toISOString();
      this.#db.prepare('INSERT OR IGNORE INTO model_usages (model_id, kind, usage_id, created_at) VALUES (?, ?, ?, ?)').run(row.id, usage.kind, usage.id, createdAt);
      const stored = this.#db.prepare('SELECT created_at FROM model_usages WHERE model_id = ? AND kind = ? AND usage_id = ?').get(row.id, usage.kind, usage.id) as { created_at: string };
      return { modelId: `${row.name}:${row.version}`, kind: usage.kind, id: usage.id, createdAt: stored.created_at };
    }, 'recording a usage');
  }

  /** Forgets a usage of one version, or of every version of the name when none is given. Returns how many were removed. */
  releaseUsage(ref: string | ModelRef, usage: ModelUsage): number {
    checkUsage(usage);
    const target = toRef(ref);
    return this.#write(() => {
      const ids = target.version === undefined
        ? (this.#db.prepare('SELECT id FROM models WHERE name = ?').all(target.name) as Array<{ id: number }>).map((r) => r.id)
        : [this.#findRow(target).id];
      if (ids.length === 0) throw notFound(target);
      let removed = 0;
      for (const id of ids) {
        removed += this.#db.prepare('DELETE FROM model_usages WHERE model_id = ? AND kind = ? AND usage_id = ?').run(id, usage.kind, usage.id).changes;
      }
      return removed;
    }, 'releasing a usage');
  }

  /** Usages of one version, of every version of a name (no version), or of the whole workspace (no ref). */
  usages(ref?: string | ModelRef): RecordedUsage[] {
    const target = ref === undefined ? undefined : toRef(ref);
    return this.#read(() => {
      let where = '';
      const params: unknown[] = [];
      if (target?.version !== undefined) {
        where = 'WHERE u.model_id = ?';
        params.push(this.#findRow(target).id);
      } else if (target) {
        if (!this.#db.prepare('SELECT 1 FROM models WHERE name = ?').get(target.name)) throw notFound(target);
        where = 'WHERE m.name = ?';
        params.push(target.name);
      }
      const rows = this.#db.prepare(
        `SELECT m.name, m.version, u.kind, u.usage_id, u.created_at FROM model_usages u JOIN models m ON m.id = u.model_id ${where} ORDER BY m.name, m.version, u.kind, u.usage_id`,
      ).all(...params) as Array<{ name: string; version: number; kind: UsageKind; usage_id: string; created_at: string }>;
      return rows.map((r) => ({ modelId: `${r.name}:${r.version}`, kind: r.kind, id: r.usage_id, createdAt: r.created_at }));
    }, 'reading usages');
  }

  /** Re-hashes one version, every version of a name (no version), or every model (no ref). */
  async verify(ref?: string | ModelRef): Promise<VerifyReport> {
    let records: ModelRecord[];
    if (ref === undefined) {
      records = this.list();
    } else {
      const target = toRef(ref);
      records = target.version === undefined ? this.list({ name: target.name }) : [this.get(target)];
      if (records.length === 0) throw notFound(target);
    }
    return verifyModels(records, this.#blobs);
  }

  /**
   * Removes what crashed or interrupted operations left behind: staging folders of dead processes,
   * version folders without rows, blobs no file refers to. Safe while other processes work.
   */
  async collectGarbage(): Promise<GarbageReport> {
    const report: GarbageReport = { staging: await removeStaleStaging(this.#stagingRoot), orphanVersions: 0, blobs: 0, bytes: 0 };
    const orphans = this.#write(() => {
      const moved: string[] = [];
      for (const name of safeReaddir(this.#modelsRoot)) moved.push(...this.#moveOrphanVersions(name));
      return moved;
    }, 'collecting garbage');
    report.orphanVersions = orphans.length;
    for (const dir of orphans) await rm(dir, { recursive: true, force: true });
    const all: string[] = [];
    for (const prefix of safeReaddir(join(this.#blobs.root, 'sha256'))) {
      for (const name of safeReaddir(join(this.#blobs.root, 'sha256', prefix))) {
        if (/^[0-9a-f]{64}$/.test(name)) all.push(name);
        else if (name.endsWith('.tmp')) rmSync(join(this.#blobs.root, 'sha256', prefix, name), { force: true });
      }
    }
    const removed = this.#removeUnreferencedBlobs(all);
    report.blobs = removed.count;
    report.bytes = removed.bytes;
    return report;
  }

  // --- internals -------------------------------------------------------------------------------

  #commit(staged: StagedModel, name: string, tags: Record<string, string>, properties: Record<string, string>, description: string): number {
    return this.#write(() => {
      const last = this.#db.prepare('SELECT last_version FROM model_names WHERE name = ?').get(name) as { last_version: number } | undefined;
      const version = (last?.last_version ?? 0) + 1;
      this.#db.prepare('INSERT INTO model_names (name, last_version) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET last_version = excluded.last_version').run(name, version);
      const { lastInsertRowid } = this.#db.prepare(
        'INSERT INTO models (name, version, description, framework, kind, entry, created_at, size, sha256, primary_onnx) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(name, version, description, staged.framework, staged.kind, staged.entry, new Date().toISOString(), staged.size, staged.sha256, staged.primaryOnnx ?? null);
      const insertFile = this.#db.prepare('INSERT INTO model_files (model_id, path, size, sha256, onnx) VALUES (?, ?, ?, ?, ?)');
      for (const f of staged.files) {
        const onnx = staged.onnxFiles[f.path];
        insertFile.run(lastInsertRowid, f.path, f.size, f.sha256, onnx === undefined ? null : JSON.stringify(onnx));
        // A blob removed by a concurrent delete since staging comes back from our copy (same inode).
        this.#blobs.ensureSync(f.staged, f.sha256);
      }
      const insertTag = this.#db.prepare('INSERT INTO model_tags (model_id, key, value) VALUES (?, ?, ?)');
      for (const [k, v] of Object.entries(tags)) insertTag.run(lastInsertRowid, k, v);
      const insertProperty = this.#db.prepare('INSERT INTO model_properties (model_id, key, value) VALUES (?, ?, ?)');
      for (const [k, v] of Object.entries(properties)) insertProperty.run(lastInsertRowid, k, v);

      // Folders of this name without rows were left by crashed registrations or deletions; we hold
      // the write lock, so none of them belongs to a registration in progress.
      for (const orphan of this.#moveOrphanVersions(name)) rmSync(orphan, { recursive: true, force: true });
      const target = this.#versionDir(name, version);
      mkdirSync(join(this.#modelsRoot, name), { recursive: true });
      rmSync(target, { recursive: true, force: true });
      renameSync(staged.tree, target); // the last step before COMMIT
      return version;
    }, `registering ${name}`);
  }

  /** Moves version folders of `name` that have no row into staging (inside a write transaction). */
  #moveOrphanVersions(name: string): string[] {
    const known = new Set((this.#db.prepare('SELECT version FROM models WHERE name = ?').all(name) as Array<{ version: number }>).map((r) => String(r.version)));
    const moved: string[] = [];
    for (const entry of safeReaddir(join(this.#modelsRoot, name))) {
      if (known.has(entry)) continue;
      const aside = join(this.#stagingRoot, `${process.pid}-orphan-${randomBytes(6).toString('hex')}`);
      try {
        renameSync(join(this.#modelsRoot, name, entry), aside);
        moved.push(aside);
      } catch {
        // gone already
      }
    }
    return moved;
  }

  /** Removes the given blobs that no model file refers to any more (one write transaction). */
  #removeUnreferencedBlobs(digests: readonly string[]): { count: number; bytes: number } {
    if (digests.length === 0) return { count: 0, bytes: 0 };
    return this.#write(() => {
      const used = this.#db.prepare('SELECT 1 FROM model_files WHERE sha256 = ? LIMIT 1');
      let count = 0;
      let bytes = 0;
      for (const sha of new Set(digests)) {
        if (used.get(sha)) continue;
        bytes += this.#blobs.removeSync(sha);
        count++;
      }
      return { count, bytes };
    }, 'removing unused blobs');
  }

  #discard(dir: string): void {
    const aside = join(this.#stagingRoot, `${process.pid}-deleted-${randomBytes(6).toString('hex')}`);
    try {
      renameSync(dir, aside);
    } catch {
      return;
    }
    rmSync(aside, { recursive: true, force: true });
  }

  #versionDir(name: string, version: number): string {
    return join(this.#modelsRoot, name, String(version));
  }

  #findRow(ref: ModelRef): ModelRow {
    const row = this.#read(() => (ref.version === undefined
      ? this.#db.prepare('SELECT * FROM models WHERE name = ? ORDER BY version DESC LIMIT 1').get(ref.name)
      : this.#db.prepare('SELECT * FROM models WHERE name = ? AND version = ?').get(ref.name, ref.version)) as ModelRow | undefined, 'reading a model');
    if (!row) throw notFound(ref);
    return row;
  }

  #toRecord(row: ModelRow): ModelRecord {
    const files = this.#db.prepare('SELECT path, size, sha256, onnx FROM model_files WHERE model_id = ? ORDER BY path').all(row.id) as Array<{ path: string; size: number; sha256: string; onnx: string | null }>;
    const tags = Object.fromEntries((this.#db.prepare('SELECT key, value FROM model_tags WHERE model_id = ? ORDER BY key').all(row.id) as Array<{ key: string; value: string }>).map((t) => [t.key, t.value]));
    const properties = Object.fromEntries((this.#db.prepare('SELECT key, value FROM model_properties WHERE model_id = ? ORDER BY key').all(row.id) as Array<{ key: string; value: string }>).map((t) => [t.key, t.value]));
    const path = join(this.#versionDir(row.name, row.version), row.entry);
    const record: ModelRecord = {
      id: `${row.name}:${row.version}`, name: row.name, version: row.version, description: row.description,
      framework: row.framework, kind: row.kind, path, tags, properties, createdAt: row.created_at, size: row.size,
      sha256: row.sha256, files: files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
    };
    const onnxFiles: Record<string, OnnxModelInfo> = {};
    for (const f of files) if (f.onnx !== null) onnxFiles[f.path] = JSON.parse(f.onnx) as OnnxModelInfo;
    if (Object.keys(onnxFiles).length > 0) record.onnxFiles = onnxFiles;
    if (row.primary_onnx !== null && onnxFiles[row.primary_onnx]) {
      record.onnx = onnxFiles[row.primary_onnx];
      record.onnxFile = row.kind === 'file' ? path : join(path, ...row.primary_onnx.split('/'));
    }
    return record;
  }

  #write<T>(fn: () => T, doing: string): T {
    try {
      return this.#db.transaction(fn).immediate();
    } catch (cause) {
      throw wrapSqliteError(cause, doing);
    }
  }

  #read<T>(fn: () => T, doing: string): T {
    try {
      return fn();
    } catch (cause) {
      throw wrapSqliteError(cause, doing);
    }
  }
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !isValidModelName(name)) {
    throw registryError('FERRY_E_MODEL_REF_INVALID', `${JSON.stringify(name)} is not a valid model name: it must match ${MODEL_NAME_PATTERN.source}`, { details: { name } });
  }
  return name;
}

function toRef(ref: string | ModelRef): ModelRef {
  if (typeof ref === 'string') return parseModelRef(ref);
  const name = checkName(ref?.name);
  const { version } = ref;
  if (version !== undefined && !(Number.isSafeInteger(version) && version >= 1)) {
    throw registryError('FERRY_E_MODEL_REF_INVALID', `${JSON.stringify(version)} is not a model version: versions are positive integers`);
  }
  return { name, version };
}

function requireVersion(ref: ModelRef, doing: string): ModelRef & { version: number } {
  if (ref.version === undefined) {
    throw registryError('FERRY_E_MODEL_VERSION_REQUIRED', `To ${doing} a model, name its version (${ref.name}:<version>)`);
  }
  return ref as ModelRef & { version: number };
}

function notFound(ref: ModelRef): Error {
  const what = ref.version === undefined ? `No model is named ${ref.name}` : `The model ${ref.name} has no version ${ref.version}`;
  return registryError('FERRY_E_MODEL_NOT_FOUND', what, { details: { name: ref.name, version: ref.version ?? null } });
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
