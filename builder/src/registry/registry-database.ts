/**
 * The registry's SQLite database: opening (WAL, busy timeout, foreign keys) and schema migrations
 * keyed on PRAGMA user_version. Each migration runs in its own BEGIN IMMEDIATE transaction, so two
 * processes opening a new workspace at once migrate it once.
 */
import Database from 'better-sqlite3';
import { registryError } from '../errors.js';

/** How long a writer waits for another process's write transaction before FERRY_E_REGISTRY_BUSY. */
export const BUSY_TIMEOUT_MS = 30_000;

const MIGRATIONS: readonly string[] = [
  // 1: models, their files, tags, properties and usages.
  `
  CREATE TABLE model_names (
    name TEXT PRIMARY KEY,
    -- versions are never reused, even after a delete: name:version always means the same bytes
    last_version INTEGER NOT NULL
  );
  CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    description TEXT NOT NULL,
    framework TEXT NOT NULL CHECK (framework IN ('onnx', 'custom')),
    kind TEXT NOT NULL CHECK (kind IN ('file', 'folder')),
    entry TEXT NOT NULL,
    created_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    primary_onnx TEXT,
    UNIQUE (name, version)
  );
  CREATE TABLE model_files (
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    onnx TEXT,
    PRIMARY KEY (model_id, path)
  ) WITHOUT ROWID;
  CREATE INDEX model_files_by_sha256 ON model_files (sha256);
  CREATE TABLE model_tags (
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
  ) WITHOUT ROWID;
  CREATE INDEX model_tags_by_key ON model_tags (key, value);
  CREATE TABLE model_properties (
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
  ) WITHOUT ROWID;
  CREATE TABLE model_usages (
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('build', 'deployment')),
    usage_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (model_id, kind, usage_id)
  ) WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function openRegistryDatabase(file: string): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  } catch (cause) {
    throw registryError('FERRY_E_REGISTRY_IO', `Opening the registry database ${file} failed: ${(cause as Error).message}`, { cause });
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, file);
    return db;
  } catch (cause) {
    db.close();
    throw wrapSqliteError(cause, `opening the registry database ${file}`);
  }
}

function migrate(db: Database.Database, file: string): void {
  for (;;) {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw registryError('FERRY_E_REGISTRY_SCHEMA', `The registry database ${file} has schema version ${current}; this Ferry knows up to ${SCHEMA_VERSION}`);
    }
    if (current === SCHEMA_VERSION) return;
    // Re-read inside the write lock: another process may have migrated meanwhile.
    db.transaction(() => {
      const inside = db.pragma('user_version', { simple: true }) as number;
      if (inside !== current) return;
      db.exec(MIGRATIONS[current] as string);
      db.pragma(`user_version = ${current + 1}`);
    }).immediate();
  }
}

/** SQLITE_BUSY after the timeout becomes FERRY_E_REGISTRY_BUSY; coded errors pass through; the rest is FERRY_E_REGISTRY_IO. */
export function wrapSqliteError(cause: unknown, doing: string): Error {
  if (cause instanceof Error && 'code' in cause && typeof cause.code === 'string') {
    if (cause.code.startsWith('FERRY_E_')) return cause;
    if (cause.code.startsWith('SQLITE_BUSY') || cause.code.startsWith('SQLITE_LOCKED')) {
      return registryError('FERRY_E_REGISTRY_BUSY', `The registry stayed locked while ${doing}`, { cause });
    }
  }
  return registryError('FERRY_E_REGISTRY_IO', `The registry failed while ${doing}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}
