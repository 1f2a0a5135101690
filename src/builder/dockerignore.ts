// .dockerignore, applied the way `docker build` applies it: the CLI (here, Berth) leaves matching
// files out of the build context. Patterns: `*`, `?`, `[...]`, `**` for any number of directories,
// `!` to re-include; the last matching line wins; a matching directory takes its contents with it.

interface Rule {
  exclude: boolean;
  pattern: RegExp;
}

export type PathFilter = (path: string) => boolean;

/** A filter that answers true for the paths to keep in the context. */
export function dockerignoreFilter(text: string | null, alwaysKeep: string[]): PathFilter {
  const rules = text === null ? [] : parseRules(text);
  if (rules.length === 0) return () => true;
  const keep = new Set(alwaysKeep);
  return (path) => keep.has(path) || !isExcluded(rules, path);
}

function parseRules(text: string): Rule[] {
  const rules: Rule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exclude = !line.startsWith('!');
    if (!exclude) line = line.slice(1).trim();
    const cleaned = cleanPattern(line);
    if (cleaned !== '') rules.push({ exclude, pattern: globToRegExp(cleaned) });
  }
  return rules;
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

function globToRegExp(glob: string): RegExp {
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
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function isExcluded(rules: Rule[], path: string): boolean {
  const candidates = [path, ...parents(path)];
  let excluded = false;
  for (const rule of rules) {
    if (candidates.some((candidate) => rule.pattern.test(candidate))) excluded = rule.exclude;
  }
  return excluded;
}

/** "a/b/c" → ["a/b", "a"] */
function parents(path: string): string[] {
  const result: string[] = [];
  for (let slash = path.lastIndexOf('/'); slash > 0; slash = path.lastIndexOf('/', slash - 1)) result.push(path.slice(0, slash));
  return result;
}
