// Unit tests for the CLI's pure parts: argument languages, formatting, the NDJSON reader.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiBaseUrl, readNdjson } from '../src/cli/client.ts';
import { formatFormation, keyValues, relativeTime, shellAssignment, table } from '../src/cli/format.ts';
import { formatLogLine } from '../src/cli/commands/logs.ts';
import { commandListLines, commandHelpLines, wrapWords } from '../src/cli/help.ts';
import { resolveConfigChanges } from '../src/cli/config-input.ts';
import type { Command } from '../src/cli/command.ts';
import { parseConfigPair, parseResizeArg, parseScaleArg, parseSize, parseVersion } from '../src/cli/parse.ts';

test('parseSize: megabytes, gigabytes, cpus', () => {
  assert.deepEqual(parseSize('512M'), { memoryMB: 512 });
  assert.deepEqual(parseSize('1G'), { memoryMB: 1024 });
  assert.deepEqual(parseSize('2gb'), { memoryMB: 2048 });
  assert.deepEqual(parseSize('512M/0.5'), { memoryMB: 512, cpus: 0.5 });
  assert.deepEqual(parseSize('/2'), { cpus: 2 });
  for (const bad of ['', '/', '512', 'M', '512K', '0M', '512M/', '512M/0', 'big']) {
    assert.throws(() => parseSize(bad), { name: 'UsageError' }, bad);
  }
});

test('parseScaleArg / parseResizeArg', () => {
  assert.deepEqual(parseScaleArg('web=3'), { type: 'web', quantity: 3 });
  assert.deepEqual(parseScaleArg('worker=0:1G/2'), { type: 'worker', quantity: 0, memoryMB: 1024, cpus: 2 });
  assert.deepEqual(parseResizeArg('web=512M/0.5'), { type: 'web', memoryMB: 512, cpus: 0.5 });
  for (const bad of ['web', 'web=', 'web=-1', 'web=1.5', 'Web=1', '=1', 'web=1:']) {
    assert.throws(() => parseScaleArg(bad), { name: 'UsageError' }, bad);
  }
  assert.throws(() => parseResizeArg('web=3'), { name: 'UsageError' });
});

test('parseConfigPair splits at the first = only', () => {
  assert.deepEqual(parseConfigPair('URL=postgres://h/db?a=b'), ['URL', 'postgres://h/db?a=b']);
  assert.deepEqual(parseConfigPair('EMPTY='), ['EMPTY', '']);
  assert.throws(() => parseConfigPair('NOVALUE'), /"NOVALUE" is not KEY=value/);
  assert.throws(() => parseConfigPair('=x'), { name: 'UsageError' });
});

test('parseVersion accepts v3 and 3', () => {
  assert.equal(parseVersion('v3'), 3);
  assert.equal(parseVersion('12'), 12);
  for (const bad of ['v', 'v0', 'three', 'v3.1', '-1']) assert.throws(() => parseVersion(bad), { name: 'UsageError' }, bad);
});

test('table aligns columns without trailing spaces', () => {
  assert.deepEqual(table(['NAME', 'STATUS'], [['a', 'running'], ['longer-name', '']]), [
    'NAME         STATUS',
    'a            running',
    'longer-name',
  ]);
  assert.deepEqual(keyValues([['A', '1'], ['LONG_KEY', 'x=y']]), ['A:        1', 'LONG_KEY: x=y']);
});

test('relativeTime', () => {
  const now = Date.parse('2026-11-25T17:00:00Z');
  assert.equal(relativeTime('2026-11-25T16:59:30Z', now), '30s ago');
  assert.equal(relativeTime('2026-11-25T16:57:00Z', now), '3m ago');
  assert.equal(relativeTime('2026-11-25T12:00:00Z', now), '5h ago');
  assert.equal(relativeTime('2026-11-20T17:00:00Z', now), '5d ago');
  assert.equal(relativeTime('2026-01-01T00:00:00Z', now), '2026-01-01');
  assert.equal(relativeTime(null, now), '-');
});

test('formatFormation and shellAssignment', () => {
  assert.equal(formatFormation({ type: 'web', quantity: 2, memoryMB: 512, cpus: 0.5, command: null }), 'web=2:512M/0.5');
  assert.equal(formatFormation({ type: 'web', quantity: 1, memoryMB: 2048, cpus: null, command: null }), 'web=1:2G');
  assert.equal(formatFormation({ type: 'worker', quantity: 0, memoryMB: null, cpus: null, command: null }), 'worker=0');
  assert.equal(shellAssignment('A', 'postgres://u@h:5432/db'), 'A=postgres://u@h:5432/db');
  assert.equal(shellAssignment('A', 'x?y=1'), "A='x?y=1'"); // ? would glob
  assert.equal(shellAssignment('B', "it's $HOME"), `B='it'\\''s $HOME'`);
});

test('apiBaseUrl accepts a root URL with or without /api/v1', () => {
  assert.equal(apiBaseUrl('http://h:7070'), 'http://h:7070/api/v1');
  assert.equal(apiBaseUrl('http://h:7070/'), 'http://h:7070/api/v1');
  assert.equal(apiBaseUrl('http://h:7070/api/v1/'), 'http://h:7070/api/v1');
});

test('readNdjson joins records split across chunks, including multi-byte characters', async () => {
  const text = '{"a":1}\n{"b":"é"}\n\n{"c":3}';
  const bytes = Buffer.from(text);
  async function* chunks() {
    for (let i = 0; i < bytes.length; i += 3) yield bytes.subarray(i, i + 3);
  }
  const records: unknown[] = [];
  for await (const record of readNdjson(chunks())) records.push(record);
  assert.deepEqual(records, [{ a: 1 }, { b: 'é' }, { c: 3 }]);
});

test('formatLogLine follows Heroku', () => {
  const line = { time: '2026-11-25T17:00:00.123Z', process: 'web', index: 1, stream: 'stdout' as const, line: 'listening' };
  assert.equal(formatLogLine(line), '2026-11-25T17:00:00.123Z app[web.1]: listening');
  assert.equal(formatLogLine({ ...line, process: 'release', index: null }), '2026-11-25T17:00:00.123Z app[release]: listening');
});

test('help: short synopses share a line with their summary, long ones put it underneath, all within 100 columns', () => {
  const run = async () => {};
  const commands: Command[] = [
    { name: 'apps', usage: '', summary: 'list apps', run },
    { name: 'logs', usage: 'APP ' + '[--flag VALUE] '.repeat(12), summary: 'word '.repeat(60), run },
  ];
  const lines = commandListLines(commands);
  assert.match(lines[0], /^ {2}apps {2,}list apps$/);
  assert.match(lines[1], /^ {2}logs APP \[--flag VALUE\]/);
  assert.ok(lines.slice(2).every((line) => line.startsWith('      ')), lines.join('\n'));
  assert.ok([...lines, ...commandHelpLines(commands[1])].every((line) => line.length <= 100));
  assert.deepEqual(wrapWords('aaa bbb ccc', 7, '', '  '), ['aaa bbb', '  ccc']);
  assert.deepEqual(wrapWords('x'.repeat(12), 5, '', ''), ['x'.repeat(12)]);
});

test('config:set values: @file, @- (stdin), @@ literal, .env lines on stdin', async () => {
  const files: Record<string, string> = { 'cert.pem': '-----BEGIN-----\nabc\n-----END-----\n' };
  let stdinReads = 0;
  const sources = (stdin: string) => ({
    readFile: async (path: string) => {
      if (!(path in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      return Buffer.from(files[path]);
    },
    readStdin: async () => { stdinReads++; return Buffer.from(stdin); },
  });
  assert.deepEqual(await resolveConfigChanges(['CERT=@cert.pem', 'A=x=y', 'AT=@@home', 'S=@-'], false, sources('secret\n')),
    { CERT: '-----BEGIN-----\nabc\n-----END-----', A: 'x=y', AT: '@home', S: 'secret' });
  assert.equal(stdinReads, 1);
  await assert.rejects(resolveConfigChanges(['A=@-', 'B=@-'], false, sources('')), /stdin is already read for A/);
  await assert.rejects(resolveConfigChanges(['A=@missing'], false, sources('')), /cannot read missing: no such file/);
  await assert.rejects(resolveConfigChanges(['A=1', 'A=2'], false, sources('')), /A is given twice/);
  await assert.rejects(resolveConfigChanges(['A=@-'], false, sources('x'.repeat(200_000))), /larger than a config value/);
  const env = '# comment\nexport DATABASE_URL=postgres://db/x?a=b\nGREETING="hello there"\n';
  assert.deepEqual(await resolveConfigChanges([], true, sources(env)), { DATABASE_URL: 'postgres://db/x?a=b', GREETING: 'hello there' });
  await assert.rejects(resolveConfigChanges([], false, sources(env)), /missing KEY=VALUE/);
  await assert.rejects(resolveConfigChanges([], true, sources('\n# nothing\n')), /no KEY=value lines/);
});
