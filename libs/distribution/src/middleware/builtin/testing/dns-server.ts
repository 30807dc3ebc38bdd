import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * A tiny authoritative DNS server over UDP on 127.0.0.1, for tests that resolve names for real
 * (through c-ares, as the gateway does) without the network: it answers A and AAAA queries for the
 * names it is given, NXDOMAIN for any other name, optionally after a delay, and records every query.
 * A `silent` server reads queries and never answers, as a resolver that is down or flooded does.
 */

/** What a name resolves to; a type without an address is answered with no record (NODATA). */
export interface DnsRecords {
  a?: string;
  aaaa?: string;
  ttlSeconds?: number;
}

export interface DnsQuery {
  name: string;
  type: 'A' | 'AAAA' | number;
}

export interface DnsServer {
  /** `127.0.0.1:<port>`, as a resolver's server list takes it. */
  readonly address: string;
  /** Every query received, oldest first. */
  readonly queries: DnsQuery[];
  /** The most queries it held at once, received and not answered yet (with `delayMs`). */
  readonly peakPending: number;
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const NXDOMAIN = 3;
const HEADER_BYTES = 12;

/** The question's name (lower case) and where the question ends, or undefined if malformed. */
function readQuestion(query: Buffer): { name: string; type: number; end: number } | undefined {
  const labels: string[] = [];
  let at = HEADER_BYTES;
  while (at < query.length && query[at] !== 0) {
    const length = query[at];
    labels.push(query.toString('latin1', at + 1, at + 1 + length));
    at += 1 + length;
  }
  if (at + 5 > query.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: query.readUInt16BE(at + 1), end: at + 5 };
}

function addressBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (!isIPv6(address)) throw new Error(`not an IP address: ${address}`);
  const [head, tail = ''] = address.split('::');
  const groups = (part: string) => (part ? part.split(':') : []);
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = [...groups(head), ...Array<string>(missing).fill('0'), ...groups(tail)];
  return Buffer.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

/** The answer to `query`: the question echoed, then the record asked for if the name has it. */
function answer(query: Buffer, records: Readonly<Record<string, DnsRecords>>): Buffer | undefined {
  const question = readQuestion(query);
  if (!question) return undefined;
  const known = records[question.name];
  const address =
    question.type === TYPE_A ? known?.a : question.type === TYPE_AAAA ? known?.aaaa : undefined;
  const header = Buffer.alloc(HEADER_BYTES);
  query.copy(header, 0, 0, 2); // the query's id
  // QR (an answer), the query's RD bit, RA; RCODE NXDOMAIN for a name it does not know.
  header.writeUInt16BE(0x8180 | (query.readUInt16BE(2) & 0x0100) | (known ? 0 : NXDOMAIN), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(address ? 1 : 0, 6);
  const parts = [header, query.subarray(HEADER_BYTES, question.end)];
  if (address) {
    const data = addressBytes(address);
    const record = Buffer.alloc(12);
    record.writeUInt16BE(0xc000 | HEADER_BYTES, 0); // the name: a pointer to the question's
    record.writeUInt16BE(question.type, 2);
    record.writeUInt16BE(CLASS_IN, 4);
    record.writeUInt32BE(known?.ttlSeconds ?? 300, 6);
    record.writeUInt16BE(data.length, 10);
    parts.push(record, data);
  }
  return Buffer.concat(parts);
}

/**
 * Starts a server on 127.0.0.1 (a free port) answering from `records`, `delayMs` after each
 * query, or never (`'silent'`).
 */
export async function startDnsServer(
  records: Readonly<Record<string, DnsRecords>> | 'silent',
  { delayMs = 0 }: { delayMs?: number } = {},
): Promise<DnsServer> {
  const socket = createSocket('udp4');
  const queries: DnsQuery[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let pending = 0;
  let peakPending = 0;
  socket.on('message', (message: Buffer, from: RemoteInfo) => {
    const question = readQuestion(message);
    if (!question) return;
    const type =
      question.type === TYPE_A ? 'A' : question.type === TYPE_AAAA ? 'AAAA' : question.type;
    queries.push({ name: question.name, type });
    const reply = records === 'silent' ? undefined : answer(message, records);
    if (!reply) return;
    peakPending = Math.max(peakPending, ++pending);
    const timer = setTimeout(() => {
      timers.delete(timer);
      pending--;
      socket.send(reply, from.port, from.address);
    }, delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    queries,
    get peakPending() {
      return peakPending;
    },
    close: () => {
      for (const timer of timers) clearTimeout(timer);
      return new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
