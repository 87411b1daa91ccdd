import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderReference } from '@ferry/cli';

describe('docs/cli.md', () => {
  it('is the reference rendered from the command definitions (run `npm run docs` after changing a command)', () => {
    const file = readFileSync(fileURLToPath(new URL('../../docs/cli.md', import.meta.url)), 'utf8');
    expect(file).toBe(renderReference());
  });

  it('documents every command the README lists', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
    const reference = renderReference();
    for (const [, command] of reference.matchAll(/^## `ferry ([a-z ]+?)`$/gm)) {
      expect(readme, `README does not mention ferry ${command}`).toContain(`ferry ${command}`);
    }
  });
});
