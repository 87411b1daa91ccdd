import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as builder from '@ferry/builder';
import * as cli from '@ferry/cli';
import * as deploymentManifests from '@ferry/deployment-manifests';
import * as module from '@ferry/module';
import * as simulator from '@ferry/simulator';

/** Every `*Catalogue` export of every package that has one. */
function catalogues(): Map<string, { status: number; hint: string; from: string }> {
  const codes = new Map<string, { status: number; hint: string; from: string }>();
  for (const [pkg, exports] of Object.entries({ '@ferry/module': module, '@ferry/builder': builder, '@ferry/cli': cli, '@ferry/deployment-manifests': deploymentManifests, '@ferry/simulator': simulator })) {
    for (const [name, value] of Object.entries(exports)) {
      if (!name.endsWith('Catalogue') || typeof value !== 'object' || value === null) continue;
      for (const [code, entry] of Object.entries(value as Record<string, { status: number; hint: string }>)) {
        expect(codes.has(code), `${code} is declared twice (${codes.get(code)?.from} and ${pkg}.${name})`).toBe(false);
        codes.set(code, { ...entry, from: `${pkg}.${name}` });
      }
    }
  }
  return codes;
}

function documented(): Map<string, number> {
  const text = readFileSync(fileURLToPath(new URL('../../docs/errors.md', import.meta.url)), 'utf8');
  const rows = new Map<string, number>();
  for (const m of text.matchAll(/^\| `(FERRY_E_[A-Z0-9_]+)` \| (\d{3}) \|/gm)) {
    expect(rows.has(m[1]!), `${m[1]} is documented twice`).toBe(false);
    rows.set(m[1]!, Number(m[2]));
  }
  return rows;
}

describe('error catalogue', () => {
  it('code and docs/errors.md list the same codes with the same HTTP statuses', () => {
    const code = catalogues();
    const docs = documented();
    expect(code.size).toBeGreaterThan(10);
    expect([...docs.keys()].sort()).toEqual([...code.keys()].sort());
    for (const [c, entry] of code) expect(docs.get(c), c).toBe(entry.status);
  });

  it('every entry says what to do', () => {
    for (const [c, entry] of catalogues()) {
      expect(entry.hint.length, c).toBeGreaterThan(15);
      expect(entry.status, c).toBeGreaterThanOrEqual(400);
      expect(entry.status, c).toBeLessThan(600);
    }
  });
});
