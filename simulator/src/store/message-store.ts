/**
 * The durable message store behind store-and-forward (issue 3 §3), after iotedge's Routing.Core
 * (MessageStore, Checkpointers, StoreAndForward) but on one SQLite file:
 * - every message is one row, keyed by an offset that only grows, however many endpoints it goes to;
 * - each endpoint has a queue of (priority, offset, expiry) rows, read highest priority first, then in
 *   offset order (iotedge's route priority design: one queue per priority, always restart from the top);
 * - an acknowledged or expired queue row is deleted in the same transaction that counts it in the
 *   endpoint's checkpoint row; a message row goes when no queue row refers to it any more.
 * Appends are group-committed: every append of one event-loop turn shares one transaction, and each
 * promise resolves once that transaction is committed (durable across SIGKILL, see store-database.ts).
 * Committed messages also stay in memory up to a byte budget (recent-messages.ts), so handing out a
 * message that was just routed reads only its queue key, not its row.
 */
import type Database from 'better-sqlite3';
import { checkDeliveries, checkMessage, checkTimeToLive, type CheckedDelivery } from './append-validation.js';
import { storeError } from './errors.js';
import { openStoreDatabase, wrapSqliteError } from './store-database.js';
import { DEFAULT_RECENT_BYTES, RecentMessages } from './recent-messages.js';
import type { Delivery, EndpointStats, Message, MessageStoreOptions, QueuedMessage, StoreStats } from './store-types.js';

const DEFAULT_TTL_SECS = 7200; // storeAndForwardConfiguration.timeToLiveSecs default (PROTOCOLS.md §5)
const PRIORITIES = 10;

interface PendingAppend {
  readonly message: Message;
  readonly enqueuedAt: number;
  readonly properties: string;
  readonly systemProperties: string;
  readonly body: Uint8Array;
  readonly deliveries: readonly CheckedDelivery[];
  readonly at: number;
  readonly resolve: (offset: number) => void;
  readonly reject: (e: Error) => void;
}

interface MessageRow {
  enqueued_at: number;
  properties: string;
  system_properties: string;
  body: Buffer;
}

interface QueueKey {
  off: number;
  priority: number;
}

type QueueRow = QueueKey & MessageRow;

function fromRow(row: MessageRow): Message {
  return {
    properties: JSON.parse(row.properties) as Record<string, string>,
    systemProperties: JSON.parse(row.system_properties) as Record<string, string>,
    body: row.body,
    enqueuedAt: row.enqueued_at,
  };
}

interface Endpoint {
  readonly id: number;
  pending: number;
  /** Per priority, the last offset `next` handed out since open or `rewind`. */
  readonly cursor: number[];
  /** Per priority, the highest offset ever queued (0: none): `next` skips a priority whose cursor reached it. */
  readonly top: number[];
  /** The priority of each offset handed out and not acknowledged yet, so `ack` deletes with one index seek. */
  readonly handed: Map<number, number>;
}

function newEndpoint(id: number, pending: number): Endpoint {
  return { id, pending, cursor: new Array<number>(PRIORITIES).fill(0), top: new Array<number>(PRIORITIES).fill(0), handed: new Map() };
}

export class MessageStore {
  readonly #db: Database.Database;
  readonly #file: string;
  readonly #now: () => number;
  #defaultTtlSecs: number;
  #closed = false;
  #batch: PendingAppend[] = [];
  #flushScheduled = false;
  readonly #endpoints = new Map<string, Endpoint>();
  #messageCount: number;
  /** The earliest expiry of any queue row (Infinity when none): no sweep before then. */
  #earliestExpiry: number;
  readonly #sql: ReturnType<typeof prepare>;
  readonly #recent: RecentMessages;

  private constructor(db: Database.Database, file: string, options: MessageStoreOptions) {
    this.#db = db;
    this.#file = file;
    this.#now = options.now ?? Date.now;
    this.#defaultTtlSecs = checkTimeToLive(options.timeToLiveSecs ?? DEFAULT_TTL_SECS);
    this.#sql = prepare(db);
    this.#recent = new RecentMessages(options.recentBytes ?? DEFAULT_RECENT_BYTES);
    const counts = new Map<number, number>();
    for (const row of this.#sql.countQueues.all() as { endpoint_id: number; n: number }[]) counts.set(row.endpoint_id, row.n);
    const byId = new Map<number, Endpoint>();
    for (const row of this.#sql.listEndpoints.all() as { id: number; name: string }[]) {
      const ep = newEndpoint(row.id, counts.get(row.id) ?? 0);
      this.#endpoints.set(row.name, ep);
      byId.set(row.id, ep);
    }
    for (const row of this.#sql.queueTops.all() as { endpoint_id: number; priority: number; top: number }[]) {
      const ep = byId.get(row.endpoint_id);
      if (ep && row.priority >= 0 && row.priority < PRIORITIES) ep.top[row.priority] = row.top;
    }
    this.#messageCount = (this.#sql.countMessages.get() as { n: number }).n;
    this.#earliestExpiry = this.#readEarliestExpiry();
  }

  /** Opens (creating if needed) the store in `file`; one process at a time may hold it open. */
  static open(file: string, options: MessageStoreOptions = {}): MessageStore {
    if (options.timeToLiveSecs !== undefined) checkTimeToLive(options.timeToLiveSecs);
    const db = openStoreDatabase(file, options.durability ?? 'normal');
    try {
      return new MessageStore(db, file, options);
    } catch (cause) {
      db.close();
      throw wrapSqliteError(cause, `opening the message store ${file}`);
    }
  }

  /** The default time to live for deliveries that give none; applies to messages appended from now on. */
  setDefaultTimeToLive(secs: number): void {
    this.#defaultTtlSecs = checkTimeToLive(secs);
  }

  /**
   * Stores `message` once for all its deliveries and resolves with its offset once it is durable.
   * Appends made in the same event-loop turn are committed together.
   */
  append(message: Message, deliveries: readonly Delivery[]): Promise<number> {
    let pending: Omit<PendingAppend, 'resolve' | 'reject'>;
    try {
      this.#assertOpen();
      checkMessage(message);
      pending = {
        message,
        enqueuedAt: message.enqueuedAt,
        properties: JSON.stringify(message.properties),
        systemProperties: JSON.stringify(message.systemProperties),
        body: message.body,
        deliveries: checkDeliveries(deliveries),
        at: this.#now(),
      };
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return new Promise((resolve, reject) => {
      this.#batch.push({ ...pending, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /**
   * Up to `limit` of the endpoint's messages not yet handed out (since open or `rewind`), highest
   * priority first, then in offset order. Messages past their time to live are dropped and counted as
   * expired instead. An endpoint nothing was routed to has none.
   */
  next(endpoint: string, limit: number): QueuedMessage[] {
    this.#assertOpen();
    if (!Number.isInteger(limit) || limit < 1) throw storeError('FERRY_E_SIM_STORE_INPUT_INVALID', `The page size ${String(limit)} is not a positive integer`);
    this.#expireDue();
    const ep = this.#endpoints.get(endpoint);
    if (!ep) return [];
    const out: QueuedMessage[] = [];
    try {
      for (let p = 0; p < PRIORITIES && out.length < limit; p++) {
        // Nothing was queued at this priority past the cursor: no query (most routes use one priority).
        if ((ep.cursor[p] as number) >= (ep.top[p] as number)) continue;
        const page = this.#page(ep.id, p, ep.cursor[p] as number, limit - out.length);
        for (const q of page) {
          ep.handed.set(q.offset, q.priority);
          out.push(q);
        }
        const last = page[page.length - 1];
        if (last) ep.cursor[p] = last.offset;
      }
    } catch (cause) {
      throw wrapSqliteError(cause, `reading the queue of ${endpoint} from ${this.#file}`);
    }
    return out;
  }

  /**
   * One priority's queue past `after`: the keys first (an index-only read), the messages from memory when
   * they were appended lately; a page none of which is in memory is read in one join, a mixed page row by row.
   */
  #page(endpointId: number, priority: number, after: number, limit: number): QueuedMessage[] {
    const keys = this.#sql.selectKeys.all(endpointId, priority, after, limit) as QueueKey[];
    const cached = keys.map((k) => this.#recent.get(k.off));
    if (keys.length > 0 && cached.every((m) => m === undefined)) {
      return (this.#sql.selectPage.all(endpointId, priority, after, limit) as QueueRow[]).map((row) => ({ offset: row.off, priority: row.priority, message: fromRow(row) }));
    }
    const out: QueuedMessage[] = [];
    keys.forEach((k, i) => {
      const hit = cached[i];
      if (hit) {
        out.push({ offset: k.off, priority: k.priority, message: hit });
        return;
      }
      const row = this.#sql.selectMessage.get(k.off) as MessageRow | undefined;
      if (row) out.push({ offset: k.off, priority: k.priority, message: fromRow(row) });
    });
    return out;
  }

  /** Hands out every unacknowledged message of the endpoint again (it went away before acknowledging). */
  rewind(endpoint: string): void {
    this.#assertOpen();
    this.#endpoints.get(endpoint)?.cursor.fill(0);
  }

  /**
   * Marks messages delivered to the endpoint (after the module's PUBACK, or upstream's acceptance);
   * returns how many were still pending. Acknowledging twice or an unknown offset does nothing.
   */
  ack(endpoint: string, offsets: readonly number[]): number {
    this.#assertOpen();
    const ep = this.#endpoints.get(endpoint);
    if (!ep || offsets.length === 0) return 0;
    let acked = 0;
    try {
      this.#db.transaction(() => {
        let highest = 0;
        for (const offset of offsets) {
          const priority = ep.handed.get(offset);
          const deleted = priority === undefined ? this.#sql.deleteQueueRow.run(ep.id, offset) : this.#sql.deleteQueueRowAt.run(ep.id, priority, offset);
          if (deleted.changes === 0) continue;
          this.#release(offset);
          acked++;
          if (offset > highest) highest = offset;
        }
        if (acked > 0) this.#sql.addDelivered.run(acked, highest, ep.id);
      })();
    } catch (cause) {
      throw wrapSqliteError(cause, `acknowledging messages of ${endpoint} in ${this.#file}`);
    }
    for (const offset of offsets) ep.handed.delete(offset);
    ep.pending -= acked;
    return acked;
  }

  /** How many messages wait for the endpoint (handed out but unacknowledged ones included; expired ones not). */
  pending(endpoint: string): number {
    this.#assertOpen();
    this.#expireDue();
    return this.#endpoints.get(endpoint)?.pending ?? 0;
  }

  /** The names of every endpoint with a queue (routes may no longer use some: see `removeEndpoint`). */
  endpoints(): string[] {
    this.#assertOpen();
    return [...this.#endpoints.keys()];
  }

  /**
   * Drops an endpoint no route uses any more, with its queue and counters; returns how many messages
   * it still had. A route reload must not call this for endpoints that are still used: their queues
   * survive any change of routes.
   */
  removeEndpoint(endpoint: string): number {
    this.#assertOpen();
    const ep = this.#endpoints.get(endpoint);
    if (!ep) return 0;
    let dropped = 0;
    try {
      this.#db.transaction(() => {
        for (const row of this.#sql.deleteQueue.all(ep.id) as { off: number }[]) {
          this.#release(row.off);
          dropped++;
        }
        this.#sql.deleteEndpoint.run(ep.id);
      })();
    } catch (cause) {
      throw wrapSqliteError(cause, `removing the endpoint ${endpoint} from ${this.#file}`);
    }
    this.#endpoints.delete(endpoint);
    return dropped;
  }

  /** Per endpoint: pending, delivered, expired, oldest pending age, checkpoint; and the message rows kept. */
  stats(): StoreStats {
    this.#assertOpen();
    this.#expireDue();
    const now = this.#now();
    const endpoints: EndpointStats[] = [];
    try {
      for (const [name, ep] of this.#endpoints) {
        const row = this.#sql.endpointCounters.get(ep.id) as { delivered: number; expired: number; checkpoint: number };
        let oldest = Infinity;
        for (let p = 0; p < PRIORITIES; p++) {
          const head = this.#sql.queueHead.get(ep.id, p) as { enqueued_at: number } | undefined;
          if (head && head.enqueued_at < oldest) oldest = head.enqueued_at;
        }
        endpoints.push({
          endpoint: name,
          pending: ep.pending,
          delivered: row.delivered,
          expired: row.expired,
          oldestAgeMs: oldest === Infinity ? 0 : Math.max(0, now - oldest),
          checkpoint: row.checkpoint,
        });
      }
    } catch (cause) {
      throw wrapSqliteError(cause, `reading statistics of ${this.#file}`);
    }
    return { messages: this.#messageCount, endpoints };
  }

  /** Commits appends still waiting for their turn, then closes the file. Further calls fail with FERRY_E_SIM_STORE_CLOSED. */
  close(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#db.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw storeError('FERRY_E_SIM_STORE_CLOSED', `The message store ${this.#file} is closed`);
  }

  /** One transaction for every append of this turn (group commit); then each promise learns its offset. */
  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#batch;
    if (batch.length === 0 || this.#closed) return;
    this.#batch = [];
    const created = new Map<string, number>();
    const added = new Map<number, number>();
    /** (endpoint id, priority, offset) of every queue row written, for the endpoints' `top`. */
    const queued: number[] = [];
    const offsets: number[] = [];
    let earliest = Infinity;
    try {
      this.#db.transaction(() => {
        for (const item of batch) {
          const offset = Number(this.#sql.insertMessage.run(item.enqueuedAt, item.deliveries.length, item.properties, item.systemProperties, item.body).lastInsertRowid);
          for (const d of item.deliveries) {
            let id = this.#endpoints.get(d.endpoint)?.id ?? created.get(d.endpoint);
            if (id === undefined) {
              id = (this.#sql.insertEndpoint.get(d.endpoint) as { id: number }).id;
              created.set(d.endpoint, id);
            }
            const expiresAt = item.at + Math.round((d.ttlSecs === 0 ? this.#defaultTtlSecs : d.ttlSecs) * 1000);
            this.#sql.insertQueueRow.run(id, d.priority, offset, expiresAt);
            queued.push(id, d.priority, offset);
            added.set(id, (added.get(id) ?? 0) + 1);
            if (expiresAt < earliest) earliest = expiresAt;
          }
          offsets.push(offset);
        }
      })();
    } catch (cause) {
      const error = wrapSqliteError(cause, `storing ${batch.length} message(s) in ${this.#file}`);
      for (const item of batch) item.reject(error);
      return;
    }
    for (const [name, id] of created) this.#endpoints.set(name, newEndpoint(id, 0));
    const byId = new Map<number, Endpoint>();
    for (const ep of this.#endpoints.values()) {
      ep.pending += added.get(ep.id) ?? 0;
      byId.set(ep.id, ep);
    }
    for (let i = 0; i < queued.length; i += 3) {
      const ep = byId.get(queued[i] as number);
      const p = queued[i + 1] as number;
      if (ep && (queued[i + 2] as number) > (ep.top[p] as number)) ep.top[p] = queued[i + 2] as number;
    }
    this.#messageCount += batch.length;
    batch.forEach((item, i) => this.#recent.add(offsets[i] as number, item.message));
    if (earliest < this.#earliestExpiry) this.#earliestExpiry = earliest;
    batch.forEach((item, i) => item.resolve(offsets[i] as number));
  }

  /** Drops every queue row past its expiry, counting it as expired for its endpoint (iotedge CleanupProcessor). */
  #expireDue(): void {
    const now = this.#now();
    if (now < this.#earliestExpiry) return;
    const perEndpoint = new Map<number, number>();
    const expired = new Map<number, number[]>();
    try {
      this.#db.transaction(() => {
        for (const row of this.#sql.deleteExpired.all(now) as { endpoint_id: number; off: number }[]) {
          this.#release(row.off);
          perEndpoint.set(row.endpoint_id, (perEndpoint.get(row.endpoint_id) ?? 0) + 1);
          let list = expired.get(row.endpoint_id);
          if (!list) expired.set(row.endpoint_id, (list = []));
          list.push(row.off);
        }
        for (const [id, n] of perEndpoint) this.#sql.addExpired.run(n, id);
      })();
    } catch (cause) {
      throw wrapSqliteError(cause, `dropping expired messages from ${this.#file}`);
    }
    for (const ep of this.#endpoints.values()) {
      ep.pending -= perEndpoint.get(ep.id) ?? 0;
      for (const off of expired.get(ep.id) ?? []) ep.handed.delete(off); // handed out, never acknowledged
    }
    this.#earliestExpiry = this.#readEarliestExpiry();
  }

  /** One endpoint no longer needs the message: delete it when none does (inside a transaction). */
  #release(offset: number): void {
    // The last reference (most messages go to one endpoint): one statement deletes it.
    if (this.#sql.deleteLastRef.run(offset).changes > 0) {
      this.#messageCount--;
      this.#recent.delete(offset);
      return;
    }
    const row = this.#sql.releaseMessage.get(offset) as { refs: number } | undefined;
    if (row && row.refs <= 0) {
      this.#sql.deleteMessage.run(offset);
      this.#messageCount--;
      this.#recent.delete(offset);
    }
  }

  #readEarliestExpiry(): number {
    const row = this.#sql.earliestExpiry.get() as { e: number | null };
    return row.e ?? Infinity;
  }
}

function prepare(db: Database.Database) {
  return {
    insertMessage: db.prepare('INSERT INTO messages (enqueued_at, refs, properties, system_properties, body) VALUES (?, ?, ?, ?, ?)'),
    insertEndpoint: db.prepare('INSERT INTO endpoints (name) VALUES (?) RETURNING id'),
    insertQueueRow: db.prepare('INSERT INTO queue (endpoint_id, priority, msg_offset, expires_at) VALUES (?, ?, ?, ?)'),
    selectKeys: db.prepare('SELECT msg_offset AS off, priority FROM queue WHERE endpoint_id = ? AND priority = ? AND msg_offset > ? ORDER BY msg_offset LIMIT ?'),
    selectMessage: db.prepare('SELECT enqueued_at, properties, system_properties, body FROM messages WHERE msg_offset = ?'),
    selectPage: db.prepare(`SELECT q.msg_offset AS off, q.priority, m.enqueued_at, m.properties, m.system_properties, m.body
      FROM queue q JOIN messages m ON m.msg_offset = q.msg_offset
      WHERE q.endpoint_id = ? AND q.priority = ? AND q.msg_offset > ? ORDER BY q.msg_offset LIMIT ?`),
    // The priority is not known at ack time: IN makes it ten index seeks, not a scan.
    deleteQueueRow: db.prepare('DELETE FROM queue WHERE endpoint_id = ? AND priority IN (0, 1, 2, 3, 4, 5, 6, 7, 8, 9) AND msg_offset = ?'),
    deleteQueueRowAt: db.prepare('DELETE FROM queue WHERE endpoint_id = ? AND priority = ? AND msg_offset = ?'),
    queueTops: db.prepare('SELECT endpoint_id, priority, max(msg_offset) AS top FROM queue GROUP BY endpoint_id, priority'),
    deleteLastRef: db.prepare('DELETE FROM messages WHERE msg_offset = ? AND refs <= 1'),
    deleteQueue: db.prepare('DELETE FROM queue WHERE endpoint_id = ? RETURNING msg_offset AS off'),
    deleteExpired: db.prepare('DELETE FROM queue WHERE expires_at <= ? RETURNING endpoint_id, msg_offset AS off'),
    releaseMessage: db.prepare('UPDATE messages SET refs = refs - 1 WHERE msg_offset = ? RETURNING refs'),
    deleteMessage: db.prepare('DELETE FROM messages WHERE msg_offset = ?'),
    addDelivered: db.prepare('UPDATE endpoints SET delivered = delivered + ?, checkpoint = max(checkpoint, ?) WHERE id = ?'),
    addExpired: db.prepare('UPDATE endpoints SET expired = expired + ? WHERE id = ?'),
    deleteEndpoint: db.prepare('DELETE FROM endpoints WHERE id = ?'),
    listEndpoints: db.prepare('SELECT id, name FROM endpoints ORDER BY id'),
    countQueues: db.prepare('SELECT endpoint_id, count(*) AS n FROM queue GROUP BY endpoint_id'),
    countMessages: db.prepare('SELECT count(*) AS n FROM messages'),
    endpointCounters: db.prepare('SELECT delivered, expired, checkpoint FROM endpoints WHERE id = ?'),
    queueHead: db.prepare(`SELECT m.enqueued_at FROM queue q JOIN messages m ON m.msg_offset = q.msg_offset
      WHERE q.endpoint_id = ? AND q.priority = ? ORDER BY q.msg_offset LIMIT 1`),
    earliestExpiry: db.prepare('SELECT min(expires_at) AS e FROM queue'),
  };
}
