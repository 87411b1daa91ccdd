/** What the message store keeps and hands back. */

/** A routed message as the store keeps it (PROTOCOLS.md §2: application and system property bags, bytes). */
export interface Message {
  readonly properties: Readonly<Record<string, string>>;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  /** When edgeHub accepted the message, milliseconds since the epoch. */
  readonly enqueuedAt: number;
}

/** One endpoint a message is routed to (issue 3 §2: one delivery per endpoint, at the best priority). */
export interface Delivery {
  /** The endpoint's name, e.g. `$upstream` or `/modules/filter/inputs/input1`. */
  readonly endpoint: string;
  /** 0 (highest) to 9 (lowest), from the route (schema 1.1 `priority`). */
  readonly priority: number;
  /**
   * Seconds the message may wait for this endpoint, from the route's `timeToLiveSecs`. Left out or 0: the
   * store's default (`storeAndForwardConfiguration.timeToLiveSecs`), as iotedge's MessageStore.Add does.
   */
  readonly ttlSecs?: number;
}

/** A message handed to an endpoint by `next`, with what `ack` needs. */
export interface QueuedMessage {
  readonly offset: number;
  readonly priority: number;
  readonly message: Message;
}

export interface EndpointStats {
  readonly endpoint: string;
  /** Messages waiting (handed out but not acknowledged included), expired ones excluded. */
  readonly pending: number;
  /** Messages acknowledged since the endpoint was first used (kept across restarts). */
  readonly delivered: number;
  /** Messages dropped because their time to live passed before delivery (kept across restarts). */
  readonly expired: number;
  /** Age in ms of the oldest pending message (from its `enqueuedAt`), 0 when none is pending. */
  readonly oldestAgeMs: number;
  /** The highest offset this endpoint has acknowledged (0 before any). */
  readonly checkpoint: number;
}

export interface StoreStats {
  /** Message rows kept (a message routed to several endpoints is one row). */
  readonly messages: number;
  readonly endpoints: readonly EndpointStats[];
}

export interface MessageStoreOptions {
  /** Default time to live of a delivery that gives none (`storeAndForwardConfiguration.timeToLiveSecs`); 7200 s. */
  readonly timeToLiveSecs?: number;
  /**
   * `normal` (default): a resolved append survives the process being killed (SIGKILL, crash, OOM) but
   * not a power loss or kernel panic, the same promise edgeHub's RocksDB store gives by default; commits
   * cost no fsync. `full`: every group commit is fsynced too, so appends also survive power loss, at the
   * cost of one fsync per group commit.
   */
  readonly durability?: 'normal' | 'full';
  /**
   * Body bytes of the latest committed messages kept in memory, so handing them out needs no read of
   * their rows (default 8 MiB; 0 keeps none).
   */
  readonly recentBytes?: number;
  /** The clock, milliseconds since the epoch (Date.now by default); TTLs and ages are measured on it. */
  readonly now?: () => number;
}
