import { isIPv4 } from 'node:net';

/**
 * A minimal MaxMind DB (format 2.0) writer for test fixtures: an IPv6 search tree with 24-bit
 * records (IPv4 networks live in ::/96, where readers look for them), a data section without
 * pointers or deduplication, and the metadata map. Networks must not overlap.
 */

/** An unsigned integer of an explicit MaxMind type; plain numbers are written as doubles. */
export class MmdbUint {
  constructor(
    readonly value: number | bigint,
    readonly type: 'uint16' | 'uint32' | 'uint64',
  ) {}
}

export type MmdbValue =
  | string
  | number
  | boolean
  | MmdbUint
  | readonly MmdbValue[]
  | { readonly [key: string]: MmdbValue };

const TYPES = {
  string: 2,
  double: 3,
  uint16: 5,
  uint32: 6,
  map: 7,
  uint64: 9,
  array: 11,
  bool: 14,
};
const METADATA_MARKER = Buffer.from('\xAB\xCD\xEFMaxMind.com', 'latin1');
const RECORD_BITS = 24;

/** The control byte(s): type in the top 3 bits (0 = extended, type - 7 in the next byte), then size. */
function control(type: number, size: number): Buffer {
  const extended = type > 7 ? [type - 7] : [];
  const head = (type > 7 ? 0 : type) << 5;
  if (size < 29) return Buffer.from([head | size, ...extended]);
  if (size < 29 + 256) return Buffer.from([head | 29, ...extended, size - 29]);
  if (size < 285 + 65_536) {
    const rest = size - 285;
    return Buffer.from([head | 30, ...extended, rest >> 8, rest & 0xff]);
  }
  const rest = size - 65_821;
  return Buffer.from([head | 31, ...extended, rest >> 16, (rest >> 8) & 0xff, rest & 0xff]);
}

function encode(value: MmdbValue): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([control(TYPES.string, bytes.length), bytes]);
  }
  if (typeof value === 'number') {
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleBE(value);
    return Buffer.concat([control(TYPES.double, 8), bytes]);
  }
  if (typeof value === 'boolean') return control(TYPES.bool, value ? 1 : 0);
  if (value instanceof MmdbUint) {
    const bytes: number[] = [];
    for (let v = BigInt(value.value); v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
    return Buffer.concat([control(TYPES[value.type], bytes.length), Buffer.from(bytes)]);
  }
  if (Array.isArray(value)) {
    const items = value as readonly MmdbValue[];
    return Buffer.concat([control(TYPES.array, items.length), ...items.map(encode)]);
  }
  const entries = Object.entries(value);
  return Buffer.concat([
    control(TYPES.map, entries.length),
    ...entries.flatMap(([k, v]) => [encode(k), encode(v)]),
  ]);
}

/** `10.0.0.0/8` or `2001:db8::/32` → 128 address bits and the prefix length in the IPv6 tree. */
function networkBits(network: string): { bits: number[]; length: number } {
  const [address, prefix] = network.split('/');
  const v4 = isIPv4(address);
  let bytes: number[];
  if (v4) {
    bytes = [...(new Array(12).fill(0) as number[]), ...address.split('.').map(Number)];
  } else {
    const [head, tail = []] = address.split('::').map((part) => (part ? part.split(':') : []));
    const groups = [
      ...head,
      ...new Array<string>(8 - head.length - tail.length).fill('0'),
      ...tail,
    ];
    bytes = groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
  }
  const length = Number(prefix ?? (v4 ? 32 : 128)) + (v4 ? 96 : 0);
  return { bits: bytes.flatMap((b) => [7, 6, 5, 4, 3, 2, 1, 0].map((i) => (b >> i) & 1)), length };
}

export interface MmdbEntry {
  network: string;
  data: MmdbValue;
}

export function buildMmdb(
  entries: readonly MmdbEntry[],
  { databaseType = 'proTES-Test-City', buildEpoch = 1_700_000_000 } = {},
): Buffer {
  type Slot = number | { data: number } | undefined;
  const nodes: [Slot, Slot][] = [[undefined, undefined]];
  entries.forEach(({ network }, entry) => {
    const { bits, length } = networkBits(network);
    let at = 0;
    for (let depth = 0; depth < length; depth++) {
      const slot = nodes[at][bits[depth]];
      if (depth === length - 1) {
        if (slot !== undefined) throw new Error(`${network} overlaps another network`);
        nodes[at][bits[depth]] = { data: entry };
      } else if (slot === undefined) {
        nodes.push([undefined, undefined]);
        at = nodes[at][bits[depth]] = nodes.length - 1;
      } else if (typeof slot === 'number') {
        at = slot;
      } else {
        throw new Error(`${network} overlaps another network`);
      }
    }
  });

  const data = entries.map((e) => encode(e.data));
  const offsets = data.map((_, i) => data.slice(0, i).reduce((sum, d) => sum + d.length, 0));
  const nodeCount = nodes.length;
  // A record is a node number, nodeCount for "no data", or nodeCount + 16 + a data offset.
  const record = (slot: Slot): number =>
    slot === undefined
      ? nodeCount
      : typeof slot === 'number'
        ? slot
        : nodeCount + 16 + offsets[slot.data];
  const tree = Buffer.alloc((nodeCount * RECORD_BITS * 2) / 8);
  nodes.forEach(([left, right], i) => {
    tree.writeUIntBE(record(left), i * 6, 3);
    tree.writeUIntBE(record(right), i * 6 + 3, 3);
  });

  const metadata: MmdbValue = {
    node_count: new MmdbUint(nodeCount, 'uint32'),
    record_size: new MmdbUint(RECORD_BITS, 'uint16'),
    ip_version: new MmdbUint(6, 'uint16'),
    database_type: databaseType,
    languages: ['en'],
    binary_format_major_version: new MmdbUint(2, 'uint16'),
    binary_format_minor_version: new MmdbUint(0, 'uint16'),
    build_epoch: new MmdbUint(buildEpoch, 'uint64'),
    description: { en: 'proTES test fixture' },
  };
  return Buffer.concat([tree, Buffer.alloc(16), ...data, METADATA_MARKER, encode(metadata)]);
}

/** The part of a GeoIP2 City record the distance middleware reads. */
export const cityAt = (latitude: number, longitude: number): MmdbValue => ({
  location: { latitude, longitude, accuracy_radius: new MmdbUint(20, 'uint16') },
});
