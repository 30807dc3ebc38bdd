import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { mongo, type Model, type QueryFilter } from 'mongoose';
import { TERMINAL_STATES } from '@protes/tes';
import type {
  TaskLease,
  TaskPage,
  TaskQuery,
  TaskRecord,
  TaskStateOf,
  TaskStatesJson,
} from './task-record';
import { StaleVersionError, TaskExistsError, TaskNotFoundError, TaskStore } from './task-store';
import {
  checkClaimLimit,
  checkLeaseOwner,
  checkNewRecord,
  checkPageSize,
  checkRecordLease,
  decodePageToken,
  leaseExpiry,
  newLease,
  toPage,
  uniqueIds,
} from './store-rules';
import { PROTES_CONNECTION } from './mongo-connection';
import { TASK_MODEL, type LeaseDocument, type TaskDocument } from './task.schema';

const DUPLICATE_KEY = 11000;

/**
 * Every character that means something in a PCRE pattern outside a class, escaped, so that the
 * prefix is matched literally. NUL cannot travel inside a BSON regex string, hence \x00.
 */
const escapeRegex = (text: string): string =>
  text.replace(/[\\^$.*+?()[\]{}|\0]/g, (c) => (c === '\0' ? '\\x00' : `\\${c}`));

const UNFINISHED = { $nin: [...TERMINAL_STATES] };

export const toLeaseDocument = (lease: TaskLease): LeaseDocument => ({
  owner: lease.owner,
  expiresAt: lease.expiresAt,
  expiry: new Date(leaseExpiry(lease)),
});

export function toDocument(record: TaskRecord): TaskDocument {
  const rest: Partial<TaskRecord> = { ...record };
  delete rest.version;
  delete rest.lease;
  const document: TaskDocument = {
    _id: record.id,
    owner: record.owner,
    state: record.state,
    name: record.name,
    tags: Object.entries(record.tags).map(([k, v]) => ({ k, v })),
    createdAt: record.createdAt,
    node: record.node ?? null,
    version: record.version,
    doc: JSON.stringify(rest),
  };
  if (record.lease) document.lease = toLeaseDocument(record.lease);
  return document;
}

/** What reads fetch: the record is `doc` with the version and the lease put back. */
const RECORD_FIELDS = { doc: 1, version: 1, lease: 1 } as const;

/**
 * The record of a stored document. `ownerExpiresAt` is the expiry of the lease's owner (its
 * lease_owners document), which a lease lasts until: the one written on the task when it has none.
 */
export function fromDocument(
  { doc, version, lease }: Pick<TaskDocument, 'doc' | 'version' | 'lease'>,
  ownerExpiresAt?: string,
): TaskRecord {
  // Documents written before leases existed also have a version inside `doc`; the field wins.
  const record = { ...(JSON.parse(doc) as TaskRecord), version };
  if (lease) record.lease = { owner: lease.owner, expiresAt: ownerExpiresAt ?? lease.expiresAt };
  else delete record.lease;
  return record;
}

/**
 * The MongoDB filter for a list query. User strings only ever appear under $eq or escaped in an
 * anchored regex (which MongoDB turns into an index range), never as operators or patterns.
 */
export function taskFilter(query: TaskQuery): QueryFilter<TaskDocument> {
  const filter: QueryFilter<TaskDocument> = {};
  if (query.owner !== undefined) filter.owner = { $eq: query.owner };
  if (query.namePrefix) filter.name = { $regex: `^${escapeRegex(query.namePrefix)}` };
  if (query.state !== undefined) filter.state = { $eq: query.state };
  if (query.tags?.length) {
    // One $elemMatch per filter, so that key and value must be found in the same pair.
    filter.$and = query.tags.map(({ key, value }) => ({
      tags: { $elemMatch: value ? { k: { $eq: key }, v: { $eq: value } } : { k: { $eq: key } } },
    }));
  }
  if (query.pageToken !== undefined) filter._id = { $lt: decodePageToken(query.pageToken) };
  return filter;
}

/** Unfinished tasks that no owner holds (`null` matches a missing lease). */
export const FREE_FILTER: QueryFilter<TaskDocument> = { 'lease.owner': null, state: UNFINISHED };

/** Unfinished tasks held by one of `owners`. */
export const heldByFilter = (owners: string[]): QueryFilter<TaskDocument> => ({
  'lease.owner': { $in: owners },
  state: UNFINISHED,
});

/**
 * An owner's expiry (docs/tracking.md): the leases it holds last until then, so that renewing them
 * all is one write of this document. Kept at least as late as every lease written on a task.
 */
interface LeaseOwnerDocument {
  _id: string;
  expiry: Date;
  expiresAt: string;
}

const LEASE_OWNERS = 'lease_owners';

/**
 * TaskStore on MongoDB (distributed mode). Same layout and rules as the SQLite store: indexed
 * copies of the filtered fields, the record as JSON, newest first by the time-ordered id.
 *
 * Leases rely on MongoDB's single-document atomicity: each task is claimed by an update whose
 * filter requires it to be free (or held by an owner whose lease expired), so of two trackers
 * racing for a task the server lets only one update match, and the other moves on. A lease expires
 * with its owner's document in lease_owners, which the owner's claims renew: one write per tracker
 * and renewal, whatever the number of tasks it holds.
 *
 * The model is the one MongooseModule registers on the store's connection (PersistenceModule's
 * Mongo branch); the store opens no connection of its own.
 */
@Injectable()
export class MongoTaskStore extends TaskStore implements OnModuleInit {
  constructor(
    @InjectModel(TASK_MODEL, PROTES_CONNECTION) private readonly tasks: Model<TaskDocument>,
  ) {
    super();
  }

  /**
   * Builds the schema's indexes and waits for them (the connection builds none by itself), so that
   * missing rights or a conflicting index fail the start-up. Existing indexes are left as they are.
   */
  async onModuleInit(): Promise<void> {
    await this.tasks.createIndexes();
    await this.backfillNodes();
    await this.backfillLeaseOwners();
  }

  private owners() {
    return this.tasks.db.collection<LeaseOwnerDocument>(LEASE_OWNERS);
  }

  /**
   * Leases written before lease_owners existed expired on their own: each owner of an unfinished
   * task gets its document, as late as its latest lease, so that its tasks stay held as long.
   */
  private async backfillLeaseOwners(): Promise<void> {
    const latest = await this.tasks.aggregate<{ _id: string; lease: LeaseDocument }>([
      { $match: { 'lease.owner': { $type: 'string' }, state: UNFINISHED } },
      { $sort: { 'lease.expiry': -1 } },
      { $group: { _id: '$lease.owner', lease: { $first: '$lease' } } },
    ]);
    for (const { lease } of latest) await this.extendOwner(lease);
  }

  /**
   * Sets the owner's document to expire with `lease` if it expires before `below` (by default:
   * before `lease`, so that it expires no earlier than any lease written on a task). Written before
   * the tasks that carry the lease, so that a task is never held by an owner that has none.
   */
  private async extendOwner(
    { owner, expiry, expiresAt }: LeaseDocument,
    below = expiry,
  ): Promise<void> {
    try {
      await this.owners().updateOne(
        { _id: owner, expiry: { $lt: below } },
        { $set: { expiry, expiresAt } },
        { upsert: true },
      );
    } catch (err) {
      // The owner's document exists and is already as late: the upsert's insert clashed.
      if (!(err instanceof mongo.MongoServerError && err.code === DUPLICATE_KEY)) throw err;
    }
  }

  /** The records of `found`, each lease with its owner's expiry (one query for all owners). */
  private async records(
    found: Pick<TaskDocument, 'doc' | 'version' | 'lease'>[],
  ): Promise<TaskRecord[]> {
    const owners = [...new Set(found.flatMap(({ lease }) => (lease ? [lease.owner] : [])))];
    const rows = owners.length
      ? await this.owners()
          .find({ _id: { $in: owners } })
          .toArray()
      : [];
    const expiresAt = new Map(rows.map((row) => [row._id, row.expiresAt]));
    return found.map((doc) => fromDocument(doc, doc.lease && expiresAt.get(doc.lease.owner)));
  }

  /**
   * Documents written before `node` had a field of its own carry it only inside `doc`. Only the
   * unfinished ones count towards a load, so only those are read, once: afterwards every one has
   * the field (null when it has no node).
   */
  private async backfillNodes(): Promise<void> {
    const old = await this.tasks
      .find({ state: UNFINISHED, node: { $exists: false } }, { doc: 1 })
      .lean();
    if (!old.length) return;
    await this.tasks.bulkWrite(
      old.map(({ _id, doc }) => ({
        updateOne: {
          filter: { _id: { $eq: _id }, node: { $exists: false } },
          update: { $set: { node: (JSON.parse(doc) as TaskRecord).node ?? null } },
        },
      })),
    );
  }

  async create(record: TaskRecord): Promise<void> {
    checkNewRecord(record);
    checkRecordLease(record);
    if (record.lease) await this.extendOwner(toLeaseDocument(record.lease));
    try {
      await this.tasks.create(toDocument(record));
    } catch (err) {
      if (err instanceof mongo.MongoServerError && err.code === DUPLICATE_KEY) {
        throw new TaskExistsError(record.id);
      }
      throw err;
    }
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const found = await this.tasks.findById(id, RECORD_FIELDS).lean();
    return found ? (await this.records([found]))[0] : undefined;
  }

  async getState(id: string): Promise<TaskStateOf | undefined> {
    const found = await this.tasks.findById(id, { owner: 1, state: 1 }).lean();
    return found ? { id: found._id, owner: found.owner, state: found.state } : undefined;
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    checkPageSize(query.pageSize);
    const found = await this.tasks
      .find(taskFilter(query), RECORD_FIELDS)
      .sort({ _id: -1 })
      .limit(query.pageSize + 1)
      .lean();
    return toPage(await this.records(found), query.pageSize);
  }

  async listStatesJson(query: TaskQuery): Promise<TaskStatesJson> {
    checkPageSize(query.pageSize);
    const found = await this.tasks
      .find(taskFilter(query), { _id: 1, state: 1 })
      .sort({ _id: -1 })
      .limit(query.pageSize + 1)
      .lean();
    const { records, nextPageToken } = toPage(
      found.map(({ _id, state }) => ({ id: _id, state })),
      query.pageSize,
    );
    const tasks = JSON.stringify(records);
    return nextPageToken ? { tasks, nextPageToken } : { tasks };
  }

  async countActiveByNode(): Promise<Map<string, number>> {
    const counts = await this.tasks.aggregate<{ _id: string; n: number }>([
      { $match: { node: { $type: 'string' }, state: UNFINISHED } },
      { $group: { _id: '$node', n: { $sum: 1 } } },
    ]);
    return new Map(counts.map(({ _id, n }) => [_id, n]));
  }

  async replace(next: TaskRecord): Promise<TaskRecord> {
    checkRecordLease(next);
    if (next.lease) await this.extendOwner(toLeaseDocument(next.lease));
    const stored = { ...next, version: next.version + 1 };
    const { matchedCount } = await this.tasks.replaceOne(
      { _id: { $eq: next.id }, version: { $eq: next.version } },
      toDocument(stored),
    );
    if (matchedCount === 0) {
      throw (await this.tasks.exists({ _id: { $eq: next.id } }))
        ? new StaleVersionError(next.id)
        : new TaskNotFoundError(next.id);
    }
    return stored;
  }

  async listUnfinished(): Promise<TaskRecord[]> {
    const found = await this.tasks
      .find({ state: UNFINISHED }, RECORD_FIELDS)
      .sort({ _id: 1 })
      .lean();
    return this.records(found);
  }

  async claim(
    owner: string,
    leaseMs: number,
    limit: number,
    now = new Date(),
  ): Promise<TaskRecord[]> {
    const lease = toLeaseDocument(newLease(owner, leaseMs, now));
    checkClaimLimit(limit);
    // The renewal of every lease the owner holds, once due: its own document.
    await this.extendOwner(lease, new Date(now.getTime() + leaseMs / 2));
    const free = await this.take(FREE_FILTER, limit, lease);
    const orphaned = await this.orphanedOwners(now);
    const share = orphaned.length ? await this.share(owner, now) : 0;
    const taken = [...free, ...(await this.take(heldByFilter(orphaned), share, lease))];
    return taken.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /**
   * Owners whose lease expired and that still hold unfinished tasks; those that hold none are
   * forgotten (unless they renewed meanwhile).
   */
  private async orphanedOwners(now: Date): Promise<string[]> {
    const expired = await this.owners()
      .find({ expiry: { $lte: now } }, { projection: { _id: 1 } })
      .toArray();
    const orphaned: string[] = [];
    for (const { _id } of expired) {
      if (await this.tasks.exists(heldByFilter([_id]))) orphaned.push(_id);
      else await this.owners().deleteOne({ _id, expiry: { $lte: now } });
    }
    return orphaned;
  }

  /**
   * How many orphaned tasks `owner` takes over: as many as brings it to an equal part of all the
   * held tasks among the live owners (the first to claim takes its part, the next the rest).
   */
  private async share(owner: string, now: Date): Promise<number> {
    const [leased, live, mine] = await Promise.all([
      this.tasks.countDocuments({ 'lease.owner': { $type: 'string' }, state: UNFINISHED }),
      this.owners().countDocuments({ expiry: { $gt: now } }),
      this.tasks.countDocuments(heldByFilter([owner])),
    ]);
    return Math.max(0, Math.ceil(leased / Math.max(live, 1)) - mine);
  }

  /**
   * Gives `lease` to up to `limit` of the oldest tasks matching `filter`, and returns those as
   * stored. One query for the candidates, one update of all of them whose filter still requires
   * `filter` (a candidate a rival took meanwhile no longer matches), then a read of those that now
   * carry this very lease; the loop looks past the last candidate until `limit` are taken.
   */
  private async take(
    filter: QueryFilter<TaskDocument>,
    limit: number,
    lease: LeaseDocument,
  ): Promise<TaskRecord[]> {
    const taken: TaskRecord[] = [];
    let after: string | undefined;
    while (taken.length < limit) {
      const page = after === undefined ? filter : { ...filter, _id: { $gt: after } };
      const candidates = await this.tasks
        .find(page, { _id: 1 })
        .sort({ _id: 1 })
        .limit(limit - taken.length)
        .lean();
      if (!candidates.length) break;
      const ids = candidates.map(({ _id }) => _id);
      await this.tasks.updateMany(
        { ...filter, _id: { $in: ids } },
        { $set: { lease }, $inc: { version: 1 } },
      );
      const mine = await this.tasks
        .find(
          { _id: { $in: ids }, 'lease.owner': lease.owner, 'lease.expiry': lease.expiry },
          RECORD_FIELDS,
        )
        .lean();
      taken.push(...(await this.records(mine)));
      after = ids[ids.length - 1];
    }
    return taken;
  }

  async listHeld(owner: string): Promise<TaskRecord[]> {
    checkLeaseOwner(owner);
    return this.records(await this.tasks.find(heldByFilter([owner]), RECORD_FIELDS).lean());
  }

  async renew(owner: string, ids: string[], leaseMs: number, now = new Date()): Promise<string[]> {
    const lease = toLeaseDocument(newLease(owner, leaseMs, now));
    const wanted = uniqueIds(ids);
    if (!wanted.length) return [];
    const held: QueryFilter<TaskDocument> = { _id: { $in: wanted }, ...heldByFilter([owner]) };
    await this.extendOwner(lease);
    await this.tasks.updateMany(held, { $set: { lease }, $inc: { version: 1 } });
    // updateMany does not say which documents it changed. Those that now carry this very lease
    // are the ones: a rival that took a task meanwhile wrote its own owner, and a writer that read
    // before the renewal is refused by the version.
    const renewed = await this.tasks
      .find({ ...held, 'lease.expiry': { $eq: lease.expiry } }, { _id: 1 })
      .lean();
    const found = new Set(renewed.map(({ _id }) => _id));
    return wanted.filter((id) => found.has(id));
  }

  async release(owner: string, ids: string[]): Promise<void> {
    checkLeaseOwner(owner);
    const wanted = uniqueIds(ids);
    if (!wanted.length) return;
    await this.tasks.updateMany(
      { _id: { $in: wanted }, 'lease.owner': { $eq: owner } },
      { $unset: { lease: 1 }, $inc: { version: 1 } },
    );
  }

  async ping(): Promise<void> {
    const { db } = this.tasks.db;
    if (!db) throw new Error('MongoDB connection is not open');
    // A write, acknowledged by the primary: a store that answers reads only is not ready.
    await db
      .collection<{ _id: string; at: Date }>('heartbeats')
      .updateOne({ _id: 'readiness' }, { $set: { at: new Date() } }, { upsert: true });
  }

  /**
   * Nothing to close: the connection is MongooseModule's, which closes it at application shutdown,
   * once every hook that may still write has run.
   */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
