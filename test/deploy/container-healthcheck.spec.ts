import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';
import { join } from 'node:path';
import { checkHealth, externalAddresses } from '../../scripts/container-healthcheck';
import { ROOT } from './repo-files';

/** What docker-compose.yml runs in the image (compiled by `npm run build`). */
const CLI = join(ROOT, 'dist/scripts/container-healthcheck.js');

/** A server answering every request with `status`, on `host` and any free port. */
async function serve(host: string, status: number): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.writeHead(status).end('{}'));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('the container healthcheck', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  it('is healthy when the app answers on the container network address', async () => {
    const { server, port } = await serve('0.0.0.0', 200);
    servers.push(server);
    expect(externalAddresses().length).toBeGreaterThan(0);
    expect(await checkHealth(port, '/health')).toBeUndefined();
  });

  it('is unhealthy when the app listens on loopback only, though loopback answers', async () => {
    const { server, port } = await serve('127.0.0.1', 200);
    servers.push(server);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).ok).toBe(true);
    expect(await checkHealth(port, '/health')).toMatch(/ECONNREFUSED/);
  });

  it('is unhealthy when the app answers with an error', async () => {
    const { server, port } = await serve('0.0.0.0', 503);
    servers.push(server);
    expect(await checkHealth(port, '/health')).toMatch(/: 503$/);
  });

  it('is unhealthy without any address but loopback', async () => {
    expect(await checkHealth(8080, '/health', [])).toBe('no network address other than loopback');
  });

  it('calls IPv4 addresses first and never loopback or link-local ones', () => {
    const info = (address: string, family: 'IPv4' | 'IPv6', internal = false) =>
      ({ address, family, internal }) as NetworkInterfaceInfo;
    expect(
      externalAddresses({
        lo: [info('127.0.0.1', 'IPv4', true), info('::1', 'IPv6', true)],
        eth0: [info('fe80::1', 'IPv6'), info('fd00::2', 'IPv6'), info('172.18.0.3', 'IPv4')],
      }),
    ).toEqual(['172.18.0.3', '[fd00::2]']);
  });

  it('as compose runs it: exit 0 when reachable, 1 and the reason when not, 2 without a port', async () => {
    if (!existsSync(CLI)) {
      console.warn('no build (npm run build): the healthcheck command was not run');
      return;
    }
    const open = await serve('0.0.0.0', 200);
    const loopback = await serve('127.0.0.1', 200);
    servers.push(open.server, loopback.server);
    // Asynchronously: the servers answer from this process's event loop.
    const run = (...args: string[]) =>
      new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, ...args]);
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('close', (status) => resolve({ status, stderr }));
      });
    expect((await run(String(open.port), '/health')).status).toBe(0);
    const down = await run(String(loopback.port), '/health');
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/unhealthy: .*ECONNREFUSED/);
    expect(spawnSync(process.execPath, [CLI]).status).toBe(2);
  });
});
