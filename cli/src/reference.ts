/**
 * Renders the command reference (docs/cli.md) from the command definitions themselves, so the
 * reference cannot drift from what `ferry --help` says. A test compares the file with this output.
 */
import type { Command, Option } from 'commander';
import { buildProgram } from './main.js';

const INTRO = `# ferry command reference

Generated from the command definitions (\`npm run docs\`); a test keeps this file in step with them.

Every command takes the global options \`--workspace <dir>\` (default \`$FERRY_HOME\`, else \`~/.ferry\`) and
\`--json\` (machine-readable output on stdout; errors as \`{"error": {"code", "message"}}\` on stderr).
Exit status: 0 on success, 1 on a coded error (see [errors.md](errors.md)), 2 on a usage error
(\`FERRY_E_USAGE\`).
`;

function optionLine(o: Option): string {
  const dflt = o.defaultValue !== undefined && o.defaultValue !== false && o.defaultValue !== true ? ` (default: \`${String(o.defaultValue)}\`)` : '';
  return `| \`${o.flags.replace(/\|/g, '\\|')}\` | ${o.description.replace(/\|/g, '\\|')}${dflt}${o.mandatory ? ' **(required)**' : ''} |`;
}

function usage(c: Command, path: string[]): string {
  return `ferry ${[...path, c.name()].join(' ')} ${c.usage()}`.replace(/\s+/g, ' ').trim();
}

function section(c: Command, path: string[]): string[] {
  const out: string[] = [];
  const visible = c.commands.filter((s) => s.name() !== 'help');
  if (c.options.length > 0 || c.registeredArguments.length > 0 || visible.length === 0) {
    out.push(`## \`ferry ${[...path, c.name()].join(' ')}\``, '', c.description(), '', '```', usage(c, path), '```', '');
    const options = c.options.filter((o) => o.long !== '--help');
    if (options.length > 0) out.push('| option | meaning |', '|---|---|', ...options.map(optionLine), '');
  } else {
    out.push(`## \`ferry ${[...path, c.name()].join(' ')} ...\``, '', c.description(), '');
  }
  for (const sub of visible) out.push(...section(sub, [...path, c.name()]));
  return out;
}

export function renderReference(): string {
  const program = buildProgram();
  const lines = [INTRO];
  for (const c of program.commands) if (c.name() !== 'help') lines.push(...section(c, []));
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
