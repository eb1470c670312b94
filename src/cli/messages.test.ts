// Every `kubectl sluice …` that a message, an Event, a help text or a document tells a person to
// run is a real command of the plugin, with real subcommands and options (issue 15: messages that
// name commands must stay true).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from './program.ts';
import { captureIo } from '../../test/helpers/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');

function files(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'testdata' || e.name === 'node_modules' ? [] : files(full, keep);
    return keep(e.name) ? [full] : [];
  });
}

/** A word after the command: a subcommand or argument, an option, or a placeholder (${name}, NAME, <name>). */
const WORD = String.raw`(?:(?!kubectl\b)[a-z][a-z-]*|--[a-z-]+|\$\{[^}]*\}|[A-Z][A-Z_]*|<[^>]*>)`;
const MENTION = new RegExp(String.raw`kubectl sluice ([a-z][a-z-]*(?: ${WORD})*)`, 'g');

interface Mention {
  where: string;
  words: string[];
}

/** `kubectl sluice promote --full web`, `kubectl sluice set image …`: the words after "sluice" up to the end of the command. */
function mentions(file: string): Mention[] {
  const text = readFileSync(file, 'utf8');
  const out: Mention[] = [];
  for (const m of text.matchAll(MENTION)) {
    const line = text.slice(0, m.index).split('\n').length;
    out.push({ where: `${relative(ROOT, file)}:${line}`, words: (m[1] as string).split(' ') });
  }
  return out;
}

function check(program: Command, mention: Mention): string | undefined {
  let cmd = program;
  const [first, ...rest] = mention.words;
  const sub = cmd.commands.find((c) => c.name() === first || c.aliases().includes(first as string));
  if (!sub || sub.name() === 'help') return `"kubectl sluice ${first}" is not a command`;
  cmd = sub;
  let words = rest;
  if (cmd.commands.length > 0) {
    const next = cmd.commands.find((c) => c.name() === words[0] || c.aliases().includes(words[0] as string));
    if (!next) return `"kubectl sluice ${first} ${words[0] ?? ''}" is not a command (${first} has ${cmd.commands.map((c) => c.name()).join(', ')})`;
    cmd = next;
    words = words.slice(1);
  }
  const known = new Set<string>();
  for (let c: Command | null = cmd; c; c = c.parent) for (const o of c.options) if (o.long) known.add(o.long);
  for (const w of words.filter((x) => x.startsWith('--'))) {
    if (!known.has(w) && w !== '--help') return `"${w}" is not an option of kubectl sluice ${cmd.name()}`;
  }
  return undefined;
}

test('every kubectl sluice command named in src/, docs/ and the README exists', () => {
  const { program } = buildProgram(captureIo().io);
  const sources = [
    ...files(join(ROOT, 'src'), (n) => n.endsWith('.ts') && !n.endsWith('.test.ts')),
    ...files(join(ROOT, 'docs'), (n) => n.endsWith('.md')),
    join(ROOT, 'README.md'),
  ];
  const found = sources.flatMap(mentions);
  // The controller's own messages are among them (a pattern that stopped matching would pass vacuously).
  assert.ok(
    found.some((m) => m.where.startsWith('src/core/rollout/canary.ts') && m.words[0] === 'promote'),
    'the canary pause message names kubectl sluice promote',
  );
  assert.ok(found.some((m) => m.where.startsWith('src/core/rollout/blue-green.ts') && m.words[0] === 'promote'));
  const wrong = found.flatMap((m) => {
    const problem = check(program, m);
    return problem ? [`${m.where}: ${problem}`] : [];
  });
  assert.deepEqual(wrong, []);
});

test('the check itself refuses commands, subcommands and options that do not exist', () => {
  const { program } = buildProgram(captureIo().io);
  assert.match(check(program, { where: 'x', words: ['rollback', 'web'] }) ?? '', /"kubectl sluice rollback" is not a command/);
  assert.match(check(program, { where: 'x', words: ['set', 'replicas'] }) ?? '', /set has image/);
  assert.match(check(program, { where: 'x', words: ['promote', '--force', 'web'] }) ?? '', /"--force" is not an option of kubectl sluice promote/);
  assert.equal(check(program, { where: 'x', words: ['promote', '--full', 'web'] }), undefined);
  assert.equal(check(program, { where: 'x', words: ['undo', '--to-revision', 'N'] }), undefined);
  assert.equal(check(program, { where: 'x', words: ['get', 'rollout', 'web', '--watch'] }), undefined);
});
