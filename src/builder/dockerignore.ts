// .dockerignore, applied the way `docker build` applies it: the CLI (here, Berth) leaves matching
// files out of the build context. Patterns: `*`, `?`, `[...]`, `**` for any number of directories,
// `!` to re-include; the last matching line wins; a matching directory takes its contents with it.
//
// Patterns come from whoever pushes, so they are compiled for RE2 (re2js), whose matching time is
// linear in the path's length: a backtracking RegExp for `*a*a*a*a*a*a*a*a*b` takes seconds on a
// 45-character name (picomatch's regexes backtrack the same way). Rule count and length are capped too.
import { RE2JS } from 're2js';
import { BuildError } from './errors.ts';

export const MAX_RULES = 1000;
export const MAX_PATTERN_LENGTH = 1024;

interface Rule {
  exclude: boolean;
  pattern: RE2JS;
}

export type PathFilter = (path: string) => boolean;

/** A filter that answers true for the paths to keep in the context. */
export function dockerignoreFilter(text: string | null, alwaysKeep: string[]): PathFilter {
  const rules = text === null ? [] : parseRules(text);
  if (rules.length === 0) return () => true;
  const keep = new Set(alwaysKeep);
  const lastMatch = lastMatchingRule(rules);
  return (path) => keep.has(path) || !(rules[lastMatch(path)]?.exclude ?? false);
}

function parseRules(text: string): Rule[] {
  const rules: Rule[] = [];
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `.dockerignore line ${index + 1}`;
    if (line.length > MAX_PATTERN_LENGTH) throw new BuildError(`${where} is longer than ${MAX_PATTERN_LENGTH} characters`);
    if (rules.length === MAX_RULES) throw new BuildError(`.dockerignore has more than ${MAX_RULES} patterns`);
    const exclude = !line.startsWith('!');
    if (!exclude) line = line.slice(1).trim();
    const cleaned = cleanPattern(line);
    if (cleaned !== '') rules.push({ exclude, pattern: compile(globToRegExp(cleaned), where, line) });
  }
  return rules;
}

function compile(source: string, where: string, line: string): RE2JS {
  try {
    return RE2JS.compile(source);
  } catch (err) {
    throw new BuildError(`${where}: invalid pattern ${JSON.stringify(line)} (${(err as Error).message})`);
  }
}

/** Like Go's filepath.Clean on a relative pattern: no leading "/" or "./", no empty or "." parts. */
function cleanPattern(pattern: string): string {
  const parts: string[] = [];
  for (const part of pattern.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

function globToRegExp(glob: string): string {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === '*' && glob[i + 1] === '*') {
      // "**/" is zero or more whole directories; a trailing "**" is anything below.
      const slash = glob[i + 2] === '/';
      source += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) source += '\\[';
      else {
        const body = glob.slice(i + 1, close).replace(/^[!^]/, '^').replace(/\\/g, '\\\\');
        source += `[${body}]`;
        i = close;
      }
    } else if (char === '\\' && i + 1 < glob.length) source += escapeRegExp(glob[++i]!);
    else source += escapeRegExp(char);
  }
  return `^${source}$`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * The index of the last rule matching a path or any of its parent directories (-1 for none), which
 * decides whether it is excluded. Directories' answers are remembered, so a deep tree costs one match
 * per rule and path instead of one per rule, path and ancestor.
 */
function lastMatchingRule(rules: Rule[]): (path: string) => number {
  const known = new Map<string, number>();
  /** The last rule after `above` that matches the path itself, else `above`. */
  const own = (path: string, above: number) => {
    for (let i = rules.length - 1; i > above; i--) if (rules[i]!.pattern.matches(path)) return i;
    return above;
  };
  return (path) => {
    // Up to the nearest directory already known (iteratively: trees can be thousands of levels deep)...
    const unknown: string[] = [];
    let inherited = -1;
    for (let p: string | null = path; p !== null; p = parentOf(p)) {
      const seen = known.get(p);
      if (seen !== undefined) { inherited = seen; break; }
      unknown.push(p);
    }
    // ...then down again, each level taking the larger of its own match and its parent's.
    for (let i = unknown.length - 1; i >= 0; i--) {
      inherited = own(unknown[i]!, inherited);
      known.set(unknown[i]!, inherited);
    }
    return inherited;
  };
}

function parentOf(path: string): string | null {
  const slash = path.lastIndexOf('/');
  return slash > 0 ? path.slice(0, slash) : null;
}
