// What every output that wraps child outputs (`drop_on`, `fallback`, `retry`...) shares: the
// engine calls submit(), which the wrapper defines; write() goes through it, and connect, flush
// and close reach every child.
import type { ChildOutput, Output, Submission } from '../../engine/component.js';
import type { Message } from '../../engine/message.js';

export abstract class WrapperOutput implements Output {
  protected readonly children: readonly ChildOutput[];

  protected constructor(children: readonly ChildOutput[]) {
    this.children = children;
  }

  abstract submit(batch: readonly Message[]): Submission;

  async connect(signal: AbortSignal): Promise<void> {
    await Promise.all(this.children.map((child) => child.connect(signal)));
  }

  async write(batch: readonly Message[]): Promise<void> {
    const submission = this.submit(batch);
    // Both at once: a delivery that fails before acceptance must not go unhandled.
    await Promise.all([submission.accepted, submission.delivered]);
  }

  async flush(): Promise<void> {
    await Promise.all(this.children.map((child) => child.flush()));
  }

  async close(): Promise<void> {
    await Promise.all(this.children.map((child) => child.close()));
  }
}
