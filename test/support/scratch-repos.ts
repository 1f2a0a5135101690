// Scratch git repositories for builder tests: made from a fixture and/or files, committed a minute apart.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export class ScratchRepos {
  private readonly dir: string;
  private readonly fixtures: string;
  private clock = 1_700_000_000;

  /** Repositories are made under `dir`; fixture names are folders of `fixtures`. */
  constructor(dir: string, fixtures: string) {
    this.dir = dir;
    this.fixtures = fixtures;
  }

  git(repo: string, ...args: string[]): string {
    // Each commit a minute later: git archive stamps every file with the commit time, as on a real push.
    const date = `@${(this.clock += 60)} +0000`;
    return execFileSync('git', ['-C', repo, '-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], {
      encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    });
  }

  /** A repository with one commit: the fixture's files (if any), then `files` over them. */
  create(files: Record<string, string>, fixture?: string): string {
    const repo = fs.mkdtempSync(path.join(this.dir, `${fixture ?? 'repo'}-`));
    if (fixture) fs.cpSync(path.join(this.fixtures, fixture), repo, { recursive: true });
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(repo, name)), { recursive: true });
      fs.writeFileSync(path.join(repo, name), content);
    }
    this.git(repo, 'init', '-q');
    this.git(repo, 'add', '-A');
    this.git(repo, 'commit', '-qm', 'initial', '--allow-empty');
    return repo;
  }

  /** Rewrites one tracked file and commits it. */
  commitChange(repo: string, file: string, change: (text: string) => string): void {
    const target = path.join(repo, file);
    fs.writeFileSync(target, change(fs.readFileSync(target, 'utf8')));
    this.git(repo, 'commit', '-qam', `change ${file}`);
  }
}
