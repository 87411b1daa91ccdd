/**
 * Content-addressed file store: `<ws>/blobs/sha256/<2 hex>/<hex>`, read-only, one copy per content.
 * Model versions are trees of hard links to these blobs (a copy when the file system refuses links).
 *
 * Invariant kept with the registry database: a blob referenced by a committed model file exists.
 * Blobs are removed only inside a write transaction (after checking nothing refers to them), and a
 * registration re-creates any blob missing at its commit from its own staged copy (same transaction).
 */
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

export class BlobStore {
  readonly #root: string;
  /** Prefix folders known to exist (saves a mkdir per file). */
  readonly #prefixes = new Set<string>();

  constructor(root: string) {
    this.#root = root;
  }

  get root(): string {
    return this.#root;
  }

  path(sha256: string): string {
    return join(this.#root, 'sha256', sha256.slice(0, 2), sha256);
  }

  /**
   * Makes sure the blob for `staged` (just copied and hashed) exists, and that `staged` shares its
   * inode (so identical files are stored once). Returns true when this call created the blob.
   * Synchronous: a few fast system calls per file.
   */
  adopt(staged: string, sha256: string, size: number): boolean {
    const blob = this.path(sha256);
    const prefix = dirname(blob);
    if (!this.#prefixes.has(prefix)) {
      mkdirSync(prefix, { recursive: true });
      this.#prefixes.add(prefix);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(staged, blob);
        return true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') { // prefix folder removed meanwhile
          mkdirSync(prefix, { recursive: true });
          continue;
        }
        if (isLinkUnsupported(code)) {
          copyInSync(staged, blob);
          return true;
        }
        if (code !== 'EEXIST') throw e;
      }
      // The content is already stored: replace our copy by a link to it, unless the stored one is damaged.
      let existing;
      try {
        existing = statSync(blob);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile: link ours in
        throw e;
      }
      const aside = `${staged}.${randomBytes(4).toString('hex')}`;
      if (existing.size !== size) {
        // Damaged blob (verify reports the versions using it): put the good copy in its place.
        linkSync(staged, aside);
        renameSync(aside, blob);
        return true;
      }
      try {
        linkSync(blob, aside);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue;
        if (isLinkUnsupported(code)) return false; // keep our copy
        throw e;
      }
      renameSync(aside, staged);
      return false;
    }
    throw new Error(`The blob ${sha256} kept changing while it was being stored`);
  }

  /** At commit (inside the write transaction): re-creates the blob from the staged copy if it is gone. */
  ensureSync(staged: string, sha256: string): void {
    const blob = this.path(sha256);
    if (existsSync(blob)) return;
    mkdirSync(dirname(blob), { recursive: true });
    try {
      linkSync(staged, blob);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      if (!isLinkUnsupported(code)) throw e;
      copyInSync(staged, blob);
    }
  }

  /** Inside a write transaction, after checking no model file refers to it. */
  removeSync(sha256: string): number {
    const blob = this.path(sha256);
    try {
      const { size } = statSync(blob);
      unlinkSync(blob);
      return size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
  }
}

function isLinkUnsupported(code: string | undefined): boolean {
  return code === 'EXDEV' || code === 'EPERM' || code === 'EMLINK';
}

/** Copies `staged` to `blob` through a temporary name (no half-written blob is ever visible). */
function copyInSync(staged: string, blob: string): void {
  const tmp = `${blob}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    copyFileSync(staged, tmp);
    chmodSync(tmp, 0o444);
    renameSync(tmp, blob);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
