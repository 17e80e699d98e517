// Leadership among replicas that run the same pipeline (leader election): what a scheduled input
// asks before it scrapes, and where it keeps what every replica must read (the ledger's
// watermark). The engine knows no election; service.ts hands one in when `leader_election` is on.

export interface Leadership {
  /** This replica's identity. */
  readonly identity: string;
  /** True while this replica leads; turns false the instant its leadership may have lapsed. */
  isLeader(): boolean;
  /** Resolves true once this replica leads (at once if it does), false when `signal` aborts first. */
  whenLeading(signal: AbortSignal): Promise<boolean>;
  /** Calls `listener` each time this replica starts (true) or stops (false) leading; returns the unsubscribe. */
  onChange(listener: (leading: boolean) => void): () => void;
  /** A value every replica reads (the latest written by any leader), or undefined when none was written. */
  readShared(key: string, signal: AbortSignal): Promise<string | undefined>;
  /**
   * Writes a shared value, only while this replica leads and only if no other replica took the
   * leadership since (the write is conditional): false when it was refused for that reason.
   * Throws when the store could not be reached.
   */
  writeShared(key: string, value: string, signal: AbortSignal): Promise<boolean>;
}
