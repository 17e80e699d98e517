// Files of the repo as git tracks them, for tests that build a corpus from the tree: a scratch
// file (the README's tutorial has you create a broken.jsonata) must not change what they test.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';

/** The files below `dir` (inside `root`) that git tracks and `keep` accepts; outside a git checkout, every file below `dir`. */
export function repoFiles(root: string, dir: string, keep: (name: string) => boolean): string[] {
  const all = tracked(root) ?? walk(dir);
  const rel = relative(root, dir);
  const prefix = rel === '' ? '' : `${rel}${sep}`;
  return all.filter((path) => relative(root, path).startsWith(prefix) && keep(basename(path)) && existsSync(path)).sort();
}

const TRACKED = new Map<string, string[] | undefined>();

function tracked(root: string): string[] | undefined {
  if (!TRACKED.has(root)) {
    let files: string[] | undefined;
    try {
      const out = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      files = out.split('\0').filter(Boolean).map((f) => join(root, f));
    } catch {
      files = undefined;
    }
    TRACKED.set(root, files);
  }
  return TRACKED.get(root);
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.') || entry.name === 'dist') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}
