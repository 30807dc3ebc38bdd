import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os';

/**
 * The container healthcheck of docker-compose.yml: `node dist/scripts/container-healthcheck.js
 * <port> <path>`. It calls the app on the container's own network address, never on loopback, so
 * that an app listening only on 127.0.0.1 (unreachable from other containers and the published
 * port) is reported unhealthy instead of green.
 */

/** The container's addresses other containers reach it at, IPv4 first. */
export function externalAddresses(
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string[] {
  const external = Object.values(interfaces)
    .flat()
    .filter((a): a is NetworkInterfaceInfo => !!a && !a.internal);
  // Link-local IPv6 addresses need a zone to be called; a container always has another address.
  return [
    ...external.filter((a) => a.family === 'IPv4').map((a) => a.address),
    ...external
      .filter((a) => a.family === 'IPv6' && !a.address.startsWith('fe80:'))
      .map((a) => `[${a.address}]`),
  ];
}

/** Resolves with why the app is not healthy on the first external address, or undefined if it is. */
export async function checkHealth(
  port: number,
  path: string,
  addresses = externalAddresses(),
): Promise<string | undefined> {
  const [address] = addresses;
  if (!address) return 'no network address other than loopback';
  const url = `http://${address}:${port}${path}`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
    return response.ok ? undefined : `${url}: ${response.status}`;
  } catch (error) {
    // fetch names only "fetch failed"; the reason (ECONNREFUSED, a timeout) is its cause.
    const { cause } = error as { cause?: { code?: string; message?: string } };
    return `${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`;
  }
}

if (require.main === module) {
  const [port, path = '/health'] = process.argv.slice(2);
  if (!/^\d+$/.test(port ?? '')) {
    process.stderr.write('usage: container-healthcheck <port> [path]\n');
    process.exit(2);
  }
  void checkHealth(Number(port), path).then((problem) => {
    if (problem) process.stderr.write(`unhealthy: ${problem}\n`);
    process.exit(problem ? 1 : 0);
  });
}
