// Files named on the command line: globs (`*`, `?`, `[...]`, `**`) and directories, expanded
// without a dependency (Node 20 has no fs.glob).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export const GLOB = /[*?[]/;

/** Every file under `dir`, sorted; node_modules, hidden directories and those named in `skip` are skipped. */
export function walk(dir: string, skip: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = dir === '.' ? entry.name : join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && !entry.name.startsWith('.') && !skip.includes(entry.name)) out.push(...walk(path, skip));
    } else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Files matching a glob with `*`, `?`, `[...]` and `**` (any depth), searched from its fixed prefix. */
export function glob(pattern: string, skip: readonly string[] = []): string[] {
  const parts = pattern.split('/');
  const first = parts.findIndex((p) => GLOB.test(p));
  const base = parts.slice(0, first).join('/') || '.';
  const regex = globRegex(parts.slice(first).join('/'));
  if (!existsSync(base) || !statSync(base).isDirectory()) return [];
  return walk(base, skip).filter((f) => regex.test(relative(base, f).split(sep).join('/')));
}

function globRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (pattern.startsWith('**/', i)) {
      source += '(?:.*/)?';
      i += 2;
    } else if (pattern.startsWith('**', i)) {
      source += '.*';
      i += 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      source += end === -1 ? '\\[' : `[${pattern.slice(i + 1, end).replace(/^!/, '^')}]`;
      if (end !== -1) i = end;
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
