/**
 * Subscriptions of `clean=false` sessions, kept in a file so they survive a simulator restart (issue 3
 * §1). The SDK (azure-iot-device-mqtt 1.16.4) subscribes to inputs, methods and twin topics once per
 * client object and never again after a reconnect (it ignores CONNACK's sessionPresent), so a module that
 * outlives the simulator relies on the broker restoring them (MQTT-3.1.2-4).
 */
import { readFileSync } from 'node:fs';
import { simulatorError } from '../errors.js';
import { writeFileAtomic } from '../identity/atomic-file.js';

export interface StoredSubscription {
  readonly topic: string;
  readonly qos: 0 | 1;
}

export interface StoredSession {
  readonly clientId: string;
  readonly subscriptions: readonly StoredSubscription[];
}

export class SessionStore {
  readonly #path: string;
  readonly #sessions = new Map<string, Map<string, 0 | 1>>();

  private constructor(path: string) {
    this.#path = path;
  }

  /** Reads the file (absent: no sessions); throws FERRY_E_SIM_WORKSPACE_IO when it cannot be read. */
  static open(path: string): SessionStore {
    const store = new SessionStore(path);
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `Cannot read ${path}`, { cause });
    }
    if (text === undefined) return store;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (cause) {
      throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `${path} is not valid JSON`, { cause });
    }
    const sessions = (doc as { sessions?: unknown }).sessions;
    for (const s of Array.isArray(sessions) ? sessions as unknown[] : []) {
      const { clientId, subscriptions } = s as Partial<StoredSession>;
      if (typeof clientId !== 'string' || !Array.isArray(subscriptions)) continue;
      const subs = new Map<string, 0 | 1>();
      for (const sub of subscriptions) {
        if (typeof sub.topic === 'string' && (sub.qos === 0 || sub.qos === 1)) subs.set(sub.topic, sub.qos);
      }
      if (subs.size > 0) store.#sessions.set(clientId, subs);
    }
    return store;
  }

  sessions(): StoredSession[] {
    return [...this.#sessions].map(([clientId, subs]) => ({ clientId, subscriptions: [...subs].map(([topic, qos]) => ({ topic, qos })) }));
  }

  /** Adds or updates one subscription; written through (fsync) unless nothing changed. */
  subscribe(clientId: string, sub: StoredSubscription): void {
    let subs = this.#sessions.get(clientId);
    if (subs?.get(sub.topic) === sub.qos) return;
    if (!subs) this.#sessions.set(clientId, (subs = new Map()));
    subs.set(sub.topic, sub.qos);
    this.#save();
  }

  unsubscribe(clientId: string, topics: readonly string[]): void {
    const subs = this.#sessions.get(clientId);
    if (!subs || !topics.some((t) => subs.has(t))) return;
    for (const t of topics) subs.delete(t);
    if (subs.size === 0) this.#sessions.delete(clientId);
    this.#save();
  }

  /** A clean session replaced the stored one (MQTT-3.1.2-6). */
  drop(clientId: string): void {
    if (this.#sessions.delete(clientId)) this.#save();
  }

  #save(): void {
    try {
      writeFileAtomic(this.#path, `${JSON.stringify({ version: 1, sessions: this.sessions() })}\n`, 0o600);
    } catch {
      // Best effort: the live session keeps working; only a restart would forget it.
    }
  }
}
