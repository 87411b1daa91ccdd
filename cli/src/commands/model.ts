import type { Command } from 'commander';
import type { ModelRecord, VerifyReport } from '@ferry/builder';
import type { ValueSignature } from '@ferry/module';
import { action, collect } from '../context.js';
import { cliError } from '../errors.js';
import { table } from '../output.js';

/** `ferry model register|list|show|download|path|update|delete|verify` */
export function registerModelCommands(program: Command): void {
  const model = program.command('model').description('register and manage models in the workspace registry');

  model.command('register <path>')
    .description('register a model file or folder as a new version of <name>; prints name:version')
    .requiredOption('--name <name>', 'model name (letters, digits, - . _; starts with a letter or digit)')
    .option('--tag <k=v>', 'a tag (repeatable)', collect)
    .option('--property <k=v>', 'a property, add-only once set (repeatable)', collect)
    .option('--description <text>', 'free text')
    .option('--framework <framework>', 'onnx or custom (default: onnx when the model holds .onnx files)')
    .action(action(async (ctx, path: string, opts: { name: string; tag?: string[]; property?: string[]; description?: string; framework?: string }) => {
      if (opts.framework !== undefined && opts.framework !== 'onnx' && opts.framework !== 'custom') {
        throw cliError('FERRY_E_USAGE', `--framework must be onnx or custom, not "${opts.framework}"`);
      }
      const record = await ctx.registry().register(path, {
        name: opts.name,
        tags: keyValues(opts.tag, '--tag'),
        properties: keyValues(opts.property, '--property'),
        ...(opts.description !== undefined ? { description: opts.description } : {}),
        ...(opts.framework !== undefined ? { framework: opts.framework as 'onnx' | 'custom' } : {}),
      });
      ctx.out.result(record, () => record.id);
    }));

  model.command('list')
    .description('list registered models (all versions, or the latest of each name with --latest)')
    .option('--name <name>', 'only this name')
    .option('--tag <k|k=v>', 'only models with this tag (or tag value); repeatable, all must match', collect)
    .option('--property <k=v>', 'only models with this property value; repeatable', collect)
    .option('--latest', 'only the latest version of each name')
    .action(action(async (ctx, opts: { name?: string; tag?: string[]; property?: string[]; latest?: boolean }) => {
      const records = ctx.registry().list({
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        tags: (opts.tag ?? []).map((t) => {
          const eq = t.indexOf('=');
          return eq === -1 ? { key: t } : { key: t.slice(0, eq), value: t.slice(eq + 1) };
        }),
        properties: keyValues(opts.property, '--property'),
        latest: Boolean(opts.latest),
      });
      ctx.out.result(records, () => records.length === 0
        ? 'No models registered.\n'
        : table(['ID', 'FRAMEWORK', 'KIND', 'SIZE', 'CREATED', 'TAGS'], records.map((r) => [
          r.id, r.framework, r.kind, formatBytes(r.size), r.createdAt.slice(0, 19).replace('T', ' '),
          Object.entries(r.tags).map(([k, v]) => `${k}=${v}`).join(','),
        ])));
    }));

  model.command('show <model>')
    .description('show a model version (the latest when no version is given): files, tags, properties, ONNX signature')
    .action(action(async (ctx, ref: string) => {
      const record = ctx.registry().get(ref);
      ctx.out.result(record, () => describe(record));
    }));

  model.command('path <model>')
    .description("print a stored model's path: the file of a one-file model, the folder of a folder model")
    .action(action(async (ctx, ref: string) => {
      const path = ctx.registry().path(ref);
      ctx.out.result({ path }, () => path);
    }));

  model.command('download <model>')
    .description('copy a model version out of the registry into a folder')
    .requiredOption('-o, --output <dir>', 'folder to copy the model into')
    .option('--overwrite', 'replace an existing file or folder of the same name')
    .action(action(async (ctx, ref: string, opts: { output: string; overwrite?: boolean }) => {
      const result = await ctx.registry().download(ref, opts.output, { overwrite: Boolean(opts.overwrite) });
      ctx.out.result(result, () => result.path);
    }));

  model.command('update <model>')
    .description('change tags, add properties or set the description of a model version')
    .option('--add-tag <k=v>', 'add or change a tag (repeatable)', collect)
    .option('--remove-tag <k>', 'remove a tag (repeatable)', collect)
    .option('--add-property <k=v>', 'add a property; existing properties cannot change (repeatable)', collect)
    .option('--description <text>', 'replace the description')
    .action(action(async (ctx, ref: string, opts: { addTag?: string[]; removeTag?: string[]; addProperty?: string[]; description?: string }) => {
      const record = ctx.registry().update(ref, {
        addTags: keyValues(opts.addTag, '--add-tag'),
        removeTags: opts.removeTag ?? [],
        addProperties: keyValues(opts.addProperty, '--add-property'),
        ...(opts.description !== undefined ? { description: opts.description } : {}),
      });
      ctx.out.result(record, () => describe(record));
    }));

  model.command('delete <model>')
    .description('delete a model version (refused while a build or deployment uses it, unless --force)')
    .option('--force', 'delete even if a build or deployment recorded in the workspace uses it')
    .action(action(async (ctx, ref: string, opts: { force?: boolean }) => {
      const record = ctx.registry().get(ref);
      ctx.registry().delete(record.id, { force: Boolean(opts.force) });
      ctx.out.result({ deleted: record.id }, () => `Deleted ${record.id}`);
    }));

  model.command('verify [model]')
    .description('re-hash stored files and report corruption (one version, every version of a name, or everything)')
    .action(action(async (ctx, ref: string | undefined) => {
      const report = await ctx.registry().verify(ref);
      ctx.out.result(report, () => formatVerify(report));
      if (!report.ok) process.exitCode = 1;
    }));
}

function keyValues(items: string[] | undefined, option: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw cliError('FERRY_E_USAGE', `${option} takes key=value, got "${item}"`);
    result[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return result;
}

function describe(r: ModelRecord): string {
  const lines = [
    `${r.id}`,
    `  framework:   ${r.framework}`,
    `  kind:        ${r.kind}`,
    `  path:        ${r.path}`,
    `  size:        ${formatBytes(r.size)} in ${r.files.length} file${r.files.length === 1 ? '' : 's'}`,
    `  sha256:      ${r.sha256}`,
    `  created:     ${r.createdAt}`,
  ];
  if (r.description) lines.push(`  description: ${r.description}`);
  const kv = (o: Record<string, string>) => Object.entries(o).map(([k, v]) => `${k}=${v}`).join(', ') || '-';
  lines.push(`  tags:        ${kv(r.tags)}`, `  properties:  ${kv(r.properties)}`);
  if (r.onnx) {
    const o = r.onnx;
    lines.push(`  onnx:        ir ${o.irVersion}, opset ${o.opset ?? '-'}, producer ${[o.producerName, o.producerVersion].filter(Boolean).join(' ') || '-'}`);
    const sig = (v: ValueSignature) => `${v.name}: ${v.elementType}${v.shape ? `[${v.shape.map((d) => d ?? '?').join(', ')}]` : '[*]'}`;
    for (const i of o.inputs) lines.push(`  input        ${sig(i)}`);
    for (const i of o.outputs) lines.push(`  output       ${sig(i)}`);
  }
  return lines.join('\n') + '\n';
}

function formatVerify(report: VerifyReport): string {
  if (report.ok) return `OK: ${report.checked} file(s) of ${report.models.length} model version(s) verified.\n`;
  return report.problems.map((p) => `${p.problem.toUpperCase()} ${p.model} ${p.file}`).join('\n') + '\n';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u += 1; }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
