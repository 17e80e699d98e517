// The suite reads only files inside the repo, and only the ones git tracks where it builds a
// corpus from the tree: a fresh clone (or CI) has nothing beside it, a user's scratch file changes nothing.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoFiles } from './support/repo_files.js';

const ROOT = join(import.meta.dirname, '..');

describe('the test suite', () => {
  it('reads no file outside the repo (../shared, absolute /work paths)', () => {
    const sources = readdirSync(join(ROOT, 'test'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('hermetic.test.ts'));
    const outside = sources.filter((f) => /\.\.\/shared\/|['"`]\/work\/|shared\/reference\//.test(readFileSync(join(ROOT, 'test', f), 'utf8')));
    expect(outside).toEqual([]);
  });

  it('builds corpora from tracked files only: an untracked broken.jsonata is not among them', () => {
    const repo = mkdtempSync(join(tmpdir(), 'sluice-repo-files-'));
    mkdirSync(join(repo, 'mappings'));
    writeFileSync(join(repo, 'mappings', 'good.jsonata'), '$');
    writeFileSync(join(repo, 'notes.jsonata'), '$');
    execFileSync('git', ['init', '-q'], { cwd: repo });
    execFileSync('git', ['add', '.'], { cwd: repo });
    writeFileSync(join(repo, 'broken.jsonata'), '{ "a": ');
    writeFileSync(join(repo, 'mappings', 'scratch.jsonata'), '{');
    const jsonata = (name: string) => name.endsWith('.jsonata');
    expect(repoFiles(repo, repo, jsonata)).toEqual([join(repo, 'mappings', 'good.jsonata'), join(repo, 'notes.jsonata')]);
    expect(repoFiles(repo, join(repo, 'mappings'), jsonata)).toEqual([join(repo, 'mappings', 'good.jsonata')]);
  });
});
