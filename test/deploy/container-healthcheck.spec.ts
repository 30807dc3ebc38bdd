import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';
import { checkHealth, externalAddresses } from '../../scripts/container-healthcheck';

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
});
