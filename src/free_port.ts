// A loopback port nothing listens on, for a server that must be told its address up front.
import { createServer } from 'node:net';

/** Resolves a port free on 127.0.0.1 just now (another process may still take it before it is used). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
