// The images a Dockerfile reads from: its FROM lines, COPY/ADD --from and RUN --mount from=, with the build's
// own stages left out and ARGs substituted as the engine would. Only what the image policy needs, read the
// way Docker's parser reads it: parser directives (escape), line continuations, comments inside them,
// case-insensitive instructions, flags such as --platform.

export interface ImageUse {
  ref: string;
  /** 1-based line of the instruction. */
  line: number;
  instruction: string;
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/i;
const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*)$/;

interface Instruction { keyword: string; args: string; line: number }

/**
 * Every image the Dockerfile uses. A reference built from variables is listed as the engine would resolve it
 * (meta ARGs with the build args over their defaults) and also with every build arg applied, declared or not,
 * so that no way the engine might read it goes unchecked.
 */
export function imagesUsed(dockerfile: string, buildArgs: Record<string, string>): ImageUse[] {
  const uses: ImageUse[] = [];
  const seen = new Set<string>();
  const add = (use: ImageUse) => {
    const key = `${use.line} ${use.ref}`;
    if (!seen.has(key)) { seen.add(key); uses.push(use); }
  };
  const metaDefaults: Record<string, string> = {};
  let stageDefaults: Record<string, string> = {};
  const stages: string[] = [];
  for (const { keyword, args, line } of instructions(dockerfile)) {
    if (keyword === 'ARG') {
      const target = stages.length === 0 ? metaDefaults : stageDefaults;
      for (const word of words(args)) {
        const eq = word.indexOf('=');
        target[eq === -1 ? word : word.slice(0, eq)] = eq === -1 ? '' : unquote(word.slice(eq + 1));
      }
    } else if (keyword === 'FROM') {
      const [image, as, name] = words(args).filter((w) => !w.startsWith('--'));
      if (image === undefined) continue;
      for (const ref of expansions(image, metaDefaults, {}, buildArgs)) {
        if (!stages.includes(ref.toLowerCase())) add({ ref, line, instruction: 'FROM' });
      }
      // The engine refuses any other stage name, so one shaped like an image reference never shadows it.
      const named = as?.toLowerCase() === 'as' && name && STAGE_NAME.test(name);
      stages.push(named ? name.toLowerCase() : `#${stages.length}`);
      stageDefaults = {};
    } else if (keyword === 'COPY' || keyword === 'ADD' || keyword === 'RUN') {
      for (const source of flagSources(keyword, args)) {
        for (const ref of expansions(source, metaDefaults, stageDefaults, buildArgs)) {
          const stageIndex = /^\d+$/.test(ref) ? Number(ref) : -1;
          if (stageIndex >= 0 && stageIndex < stages.length) continue;
          if (stages.includes(ref.toLowerCase())) continue;
          add({ ref, line, instruction: keyword === 'RUN' ? 'RUN --mount' : `${keyword} --from` });
        }
      }
    }
  }
  return uses;
}

/** `--from=X` of COPY/ADD; `from=X` inside RUN's `--mount=…` (BuildKit). */
function flagSources(keyword: string, args: string): string[] {
  const sources: string[] = [];
  for (const word of words(args)) {
    if (!word.startsWith('--')) break; // flags come first
    const [flag, ...rest] = word.slice(2).split('=');
    const value = unquote(rest.join('='));
    if (keyword !== 'RUN' && flag.toLowerCase() === 'from') sources.push(value);
    if (keyword === 'RUN' && flag.toLowerCase() === 'mount') {
      for (const option of value.split(',')) {
        const [key, ...v] = option.split('=');
        if (key.trim().toLowerCase() === 'from') sources.push(v.join('='));
      }
    }
  }
  return sources;
}

/** The value as the engine resolves it, and with every build arg applied (an undeclared one too). */
function expansions(text: string, meta: Record<string, string>, stage: Record<string, string>, buildArgs: Record<string, string>): string[] {
  const declared = { ...meta, ...stage };
  const precise: Record<string, string> = {};
  for (const name of Object.keys(declared)) precise[name] = buildArgs[name] ?? declared[name];
  const results = [substitute(text, precise), substitute(text, { ...declared, ...buildArgs })];
  return [...new Set(results)];
}

/** $NAME, ${NAME}, ${NAME:-default}, ${NAME:+alternative}; unset is empty; \$ is a literal dollar. */
export function substitute(text: string, env: Record<string, string>): string {
  return text.replace(/\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])((?:[^}\\]|\\.)*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, braced: string | undefined, op: string | undefined, word: string | undefined, bare: string | undefined) => {
      if (match === '\\$') return '$';
      const value = env[(braced ?? bare)!];
      if (op === '-') return value ? value : substitute(word ?? '', env);
      if (op === '+') return value ? substitute(word ?? '', env) : '';
      return value ?? '';
    });
}

/** Logical instructions: continuation lines joined, comment and blank lines (also inside a continuation) dropped. */
function instructions(dockerfile: string): Instruction[] {
  const lines = dockerfile.replace(/^\uFEFF/, '').split(/\r?\n/);
  let escape = '\\';
  let start = 0;
  // Parser directives: only at the very top, before any other line.
  for (; start < lines.length; start++) {
    const directive = DIRECTIVE.exec(lines[start].trim());
    if (!directive) break;
    if (directive[1].toLowerCase() === 'escape' && (directive[2] === '`' || directive[2] === '\\')) escape = directive[2];
  }
  const result: Instruction[] = [];
  let current: Instruction | null = null;
  for (let i = start; i < lines.length; i++) {
    const raw = lines[i];
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && current !== null)) continue;
    if (trimmed === '') continue;
    const continues = raw.trimEnd().endsWith(escape);
    const text = continues ? raw.trimEnd().slice(0, -1) : raw;
    if (current === null) {
      const match = /^\s*([A-Za-z]+)(?:\s+|$)(.*)$/s.exec(text);
      if (!match) continue;
      current = { keyword: match[1].toUpperCase(), args: match[2], line: i + 1 };
    } else {
      current.args += ` ${text.trim()}`;
    }
    if (!continues) {
      result.push(current);
      current = null;
    }
  }
  if (current) result.push(current);
  return result;
}

/** Whitespace-separated words; quotes keep spaces inside a word. */
function words(args: string): string[] {
  return args.match(/(?:"[^"]*"|'[^']*'|\S)+/g) ?? [];
}

function unquote(value: string): string {
  return /^(["']).*\1$/s.test(value) ? value.slice(1, -1) : value;
}
