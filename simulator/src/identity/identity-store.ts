import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync } from 'node:fs';
import { simulatorError } from '../errors.js';
import { writeFileAtomic } from './atomic-file.js';

/** A device or module identity with its two symmetric keys (base64 of 32 random bytes). */
export interface Identity {
  readonly deviceId: string;
  /** Absent for the device itself. */
  readonly moduleId: string | undefined;
  readonly primaryKey: string;
  readonly secondaryKey: string;
  /** What `IOTEDGE_MODULEGENERATIONID` carries for this module. */
  readonly generationId: string;
}

interface StoredKeys {
  primaryKey: string;
  secondaryKey: string;
  generationId: string;
}

interface StoredIdentities {
  version: 1;
  hubHostName: string;
  deviceId: string;
  device: StoredKeys;
  modules: Record<string, StoredKeys>;
}

export interface IdentityStoreOptions {
  /** The IoT Hub host name the identities belong to (the connection strings' `HostName`). */
  hubHostName: string;
  /** The edge device's id. */
  deviceId: string;
}

/** IoT Hub's rule for device and module ids (no `/`, which separates them in client ids). */
const ID_PATTERN = /^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$/;

export function assertValidId(id: string, what: 'device' | 'module'): void {
  if (!ID_PATTERN.test(id) || (what === 'module' && id.startsWith('$') && !/^\$edge(Agent|Hub)$/.test(id))) {
    throw simulatorError('FERRY_E_SIM_IDENTITY_INVALID', `"${id}" is not a valid ${what} id.`, { details: { id } });
  }
}

function newKeys(): StoredKeys {
  return { primaryKey: randomBytes(32).toString('base64'), secondaryKey: randomBytes(32).toString('base64'), generationId: randomBytes(9).toString('base64url') };
}

/**
 * The simulator's device and module identities, kept in one JSON file of the simulator workspace
 * (mode 0600, written atomically). Made on first use and reused afterwards, so modules keep their keys
 * across simulator restarts.
 */
export class IdentityStore {
  readonly #file: string;
  #data: StoredIdentities;

  private constructor(file: string, data: StoredIdentities) {
    this.#file = file;
    this.#data = data;
  }

  /**
   * Opens the store at `file`, making it (with a new device identity) when it does not exist. A store
   * made for another hub or device id is started afresh: its keys would not match anyway.
   */
  static open(file: string, options: IdentityStoreOptions): IdentityStore {
    assertValidId(options.deviceId, 'device');
    let data: StoredIdentities | undefined;
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `Cannot read the identities file ${file}.`, { cause: e });
      }
    }
    if (text !== undefined) {
      data = parseStored(text);
      if (data === undefined) throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `The identities file ${file} is not a Ferry identities file; move it away to start afresh.`);
      try {
        chmodSync(file, 0o600);
      } catch {
        // best effort: the file was readable, the permissions stay what they were
      }
    }
    if (data === undefined || data.hubHostName !== options.hubHostName || data.deviceId !== options.deviceId) {
      data = { version: 1, hubHostName: options.hubHostName, deviceId: options.deviceId, device: newKeys(), modules: {} };
      const store = new IdentityStore(file, data);
      store.#save();
      return store;
    }
    return new IdentityStore(file, data);
  }

  get hubHostName(): string {
    return this.#data.hubHostName;
  }

  get deviceId(): string {
    return this.#data.deviceId;
  }

  /** The edge device's own identity. */
  device(): Identity {
    return this.#identity(undefined, this.#data.device);
  }

  /** The module's identity, or undefined. */
  module(moduleId: string): Identity | undefined {
    const keys = Object.hasOwn(this.#data.modules, moduleId) ? this.#data.modules[moduleId] : undefined;
    return keys ? this.#identity(moduleId, keys) : undefined;
  }

  /** The module's identity, made (and saved) with new keys when it has none. */
  ensureModule(moduleId: string): Identity {
    assertValidId(moduleId, 'module');
    const existing = this.module(moduleId);
    if (existing) return existing;
    this.#data.modules[moduleId] = newKeys();
    this.#save();
    return this.module(moduleId)!;
  }

  /** Forgets a module's identity; true when it had one. */
  removeModule(moduleId: string): boolean {
    if (!Object.hasOwn(this.#data.modules, moduleId)) return false;
    delete this.#data.modules[moduleId];
    this.#save();
    return true;
  }

  modules(): Identity[] {
    return Object.keys(this.#data.modules).sort().map((m) => this.module(m)!);
  }

  /** The identity a client id or token names, or undefined when this store has none. */
  find(deviceId: string, moduleId: string | undefined): Identity | undefined {
    if (deviceId !== this.#data.deviceId) return undefined;
    return moduleId === undefined ? this.device() : this.module(moduleId);
  }

  /**
   * `HostName=<hub>;GatewayHostName=<host>;DeviceId=<d>;ModuleId=<m>;SharedAccessKey=<key>`, what a
   * module gets as EdgeHubConnectionString (PROTOCOLS.md §1). Throws FERRY_E_SIM_IDENTITY_UNKNOWN.
   */
  connectionString(moduleId: string | undefined, gatewayHostName: string): string {
    const id = this.find(this.deviceId, moduleId);
    if (!id) throw simulatorError('FERRY_E_SIM_IDENTITY_UNKNOWN', `No identity for module "${moduleId}".`, { details: { moduleId } });
    return [
      `HostName=${this.hubHostName}`,
      `GatewayHostName=${gatewayHostName}`,
      `DeviceId=${id.deviceId}`,
      ...(id.moduleId === undefined ? [] : [`ModuleId=${id.moduleId}`]),
      `SharedAccessKey=${id.primaryKey}`,
    ].join(';');
  }

  #identity(moduleId: string | undefined, keys: StoredKeys): Identity {
    return { deviceId: this.#data.deviceId, moduleId, primaryKey: keys.primaryKey, secondaryKey: keys.secondaryKey, generationId: keys.generationId };
  }

  #save(): void {
    try {
      writeFileAtomic(this.#file, `${JSON.stringify(this.#data, null, 2)}\n`, 0o600);
    } catch (e) {
      throw simulatorError('FERRY_E_SIM_WORKSPACE_IO', `Cannot write the identities file ${this.#file}.`, { cause: e });
    }
  }
}

function isKeys(v: unknown): v is StoredKeys {
  if (typeof v !== 'object' || v === null) return false;
  const k = v as Record<string, unknown>;
  return typeof k.primaryKey === 'string' && typeof k.secondaryKey === 'string' && typeof k.generationId === 'string';
}

function parseStored(text: string): StoredIdentities | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const d = v as Record<string, unknown>;
  if (d.version !== 1 || typeof d.hubHostName !== 'string' || typeof d.deviceId !== 'string' || !isKeys(d.device)) return undefined;
  if (typeof d.modules !== 'object' || d.modules === null || Array.isArray(d.modules)) return undefined;
  const modules: Record<string, StoredKeys> = {};
  for (const [m, keys] of Object.entries(d.modules)) {
    if (!isKeys(keys)) return undefined;
    modules[m] = keys;
  }
  return { version: 1, hubHostName: d.hubHostName, deviceId: d.deviceId, device: d.device, modules };
}
