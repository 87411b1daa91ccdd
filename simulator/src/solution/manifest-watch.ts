/**
 * Watches a running simulation's deployment manifest and layer files (issue 3 §2: routes reload when the
 * manifest changes, without losing queued messages). After a change settles (debounce), the files are read and
 * merged again (readLayeredDeployment); a valid result is applied with Simulation.reload, an invalid one is
 * reported (its coded error, positioned in the file) and the simulation keeps the manifest it has.
 * The folders are watched rather than the files, so editors that save by writing a new file and renaming it work.
 */
import { EventEmitter } from 'node:events';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { readLayeredDeployment, type DeploymentManifest, type FerryError } from '@ferry/deployment-manifests';
import type { ManifestReloadResult } from './simulation.js';

export interface ManifestReloadTarget {
  reload(manifest: DeploymentManifest): Promise<ManifestReloadResult>;
}

export interface ManifestWatcherOptions {
  /** The base deployment manifest. */
  readonly deployment: string;
  /** Layer files, merged onto the base in this order. */
  readonly layers?: readonly string[];
  /** Quiet time after the last file event before the files are read (default 300 ms). */
  readonly debounceMs?: number;
  /**
   * The files' texts the running manifest was made from (base first). Default: the files as they are when watching
   * starts. A file changed between reading and watching is then applied at once.
   */
  readonly appliedTexts?: readonly string[];
}

export interface ManifestWatcherEvents {
  reloaded: [result: ManifestReloadResult];
  invalid: [error: FerryError];
}

export class ManifestWatcher extends EventEmitter<ManifestWatcherEvents> {
  readonly #target: ManifestReloadTarget;
  readonly #deployment: string;
  readonly #layers: readonly string[];
  readonly #debounceMs: number;
  readonly #watchers: FSWatcher[] = [];
  /** The files' texts last looked at, so a save without a change (or the same invalid text) does nothing. */
  #seen: string;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  private constructor(target: ManifestReloadTarget, options: ManifestWatcherOptions) {
    super();
    this.#target = target;
    this.#deployment = resolve(options.deployment);
    this.#layers = (options.layers ?? []).map((l) => resolve(l));
    this.#debounceMs = options.debounceMs ?? 300;
    this.#seen = options.appliedTexts ? options.appliedTexts.join('\u0000') : this.#snapshot();
    const byDir = new Map<string, Set<string>>();
    for (const file of this.files) {
      const names = byDir.get(dirname(file)) ?? new Set<string>();
      names.add(basename(file));
      byDir.set(dirname(file), names);
    }
    for (const [dir, names] of byDir) {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || names.has(name.toString())) this.#schedule();
      });
      watcher.on('error', () => undefined);
      this.#watchers.push(watcher);
    }
    if (this.#seen !== this.#snapshot()) this.#schedule();
  }

  /** Starts watching; the files as they are now count as applied already. */
  static watch(target: ManifestReloadTarget, options: ManifestWatcherOptions): ManifestWatcher {
    return new ManifestWatcher(target, options);
  }

  /** The watched files, base first (absolute paths). */
  get files(): readonly string[] {
    return [this.#deployment, ...this.#layers];
  }

  /** Reads the files now and applies them when they changed (what a file event leads to). */
  check(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#check().finally(() => {
      this.#running = undefined;
      if (this.#again && !this.#closed) {
        this.#again = false;
        void this.check();
      }
    });
    return this.#running;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.check(), this.#debounceMs);
  }

  async #check(): Promise<void> {
    const snapshot = this.#snapshot();
    if (snapshot === this.#seen || this.#closed) return;
    this.#seen = snapshot;
    let manifest: DeploymentManifest;
    try {
      manifest = readLayeredDeployment(this.#deployment, this.#layers);
    } catch (e) {
      this.emit('invalid', e as FerryError);
      return;
    }
    try {
      this.emit('reloaded', await this.#target.reload(manifest));
    } catch (e) {
      this.emit('invalid', e as FerryError);
    }
  }

  /** The files' texts joined (a file that cannot be read counts as empty). */
  #snapshot(): string {
    return this.files.map((f) => {
      try {
        return readFileSync(f, 'utf8');
      } catch {
        return '';
      }
    }).join('\u0000');
  }
}
