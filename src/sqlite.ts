// Opening the SQLite files sluice keeps state in (the buffer, input ledgers), one way for all.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/**
 * The longest a statement waits for a lock held by another process. SQLite waits synchronously,
 * blocking the event loop, so it is short: readers of a WAL file hold a lock only briefly, and a
 * lock held longer fails the statement (SQLITE_BUSY) for the caller to retry later.
 */
export const BUSY_TIMEOUT_MS = 100;

/** `normal`: a commit survives a killed process; `full`: also power loss (fsync per commit); `off`: neither. */
export type SyncPolicy = 'off' | 'normal' | 'full';

/** Opens (creating, with its folder) a state file in WAL mode with `sync`. Closes it again if that fails. */
export function openStateFile(file: string, sync: SyncPolicy): Database.Database {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${sync.toUpperCase()}`);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
