/**
 * The SQLite file behind the message store: pragmas, schema and migrations, and SQLite errors turned
 * into coded ones.
 *
 * Durability: WAL mode. With `synchronous = NORMAL` a commit is in the WAL file (the kernel's page
 * cache) when it returns, so it survives the process being killed at any instant; a power loss may
 * lose the last commits (never corrupt the file). `synchronous = FULL` fsyncs the WAL at each commit and
 * survives power loss too. Group commit (message-store.ts) makes either cost one commit per event-loop
 * turn, not one per message.
 *
 * `locking_mode = EXCLUSIVE`: one process owns the store; a second simulator opening the same file gets
 * FERRY_E_SIM_STORE_BUSY instead of two routers handing out the same messages. The kernel drops the lock
 * when the owner dies, even by SIGKILL. (It also spares WAL its shared-memory index.)
 */
import Database from 'better-sqlite3';
import { storeError } from './errors.js';

const MIGRATIONS: readonly string[] = [
  `
  -- Every message once, however many endpoints it is routed to; offsets only grow (AUTOINCREMENT never
  -- reuses an offset, even after the newest message was deleted).
  CREATE TABLE messages (
    msg_offset INTEGER PRIMARY KEY AUTOINCREMENT,
    enqueued_at INTEGER NOT NULL,
    refs INTEGER NOT NULL,
    properties TEXT NOT NULL,
    system_properties TEXT NOT NULL,
    body BLOB NOT NULL
  );
  -- An endpoint's checkpoint: its counters and the highest offset it acknowledged. Its queue rows are
  -- the messages it still needs.
  CREATE TABLE endpoints (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    delivered INTEGER NOT NULL DEFAULT 0,
    expired INTEGER NOT NULL DEFAULT 0,
    checkpoint INTEGER NOT NULL DEFAULT 0
  );
  -- Per-endpoint queues, in delivery order: priority first, then offset.
  CREATE TABLE queue (
    endpoint_id INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    msg_offset INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, priority, msg_offset)
  ) WITHOUT ROWID;
  CREATE INDEX queue_by_expiry ON queue (expires_at);
  `,
];

const SCHEMA_VERSION = MIGRATIONS.length;

export function openStoreDatabase(file: string, durability: 'normal' | 'full'): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: 0 });
  } catch (cause) {
    throw wrapSqliteError(cause, `opening the message store ${file}`);
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
    // Messages live on disk, not in memory: a small page cache keeps RSS flat however long the backlog.
    db.pragma('cache_size = -8192');
    migrate(db, file);
    return db;
  } catch (cause) {
    db.close();
    throw wrapSqliteError(cause, `opening the message store ${file}`);
  }
}

function migrate(db: Database.Database, file: string): void {
  // BEGIN IMMEDIATE takes the exclusive lock now, so a second owner fails at open, not at its first write.
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw storeError('FERRY_E_SIM_STORE_SCHEMA', `The message store ${file} has schema version ${current}; this Ferry knows up to ${SCHEMA_VERSION}`);
    }
    for (let v = current; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v] as string);
    if (current !== SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** Coded errors pass through; SQLite's busy, corrupt and other errors become the store's codes. */
export function wrapSqliteError(cause: unknown, doing: string): Error {
  const code = cause instanceof Error && 'code' in cause && typeof cause.code === 'string' ? cause.code : '';
  if (code.startsWith('FERRY_E_')) return cause as Error;
  const message = cause instanceof Error ? cause.message : String(cause);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return storeError('FERRY_E_SIM_STORE_BUSY', `The message store is locked by another process (${doing})`, { cause });
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return storeError('FERRY_E_SIM_STORE_CORRUPT', `The message store is damaged (${doing}): ${message}`, { cause });
  }
  return storeError('FERRY_E_SIM_STORE_IO', `The message store failed while ${doing}: ${message}`, { cause });
}
