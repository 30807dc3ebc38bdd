import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { mongo, type Model, type QueryFilter } from 'mongoose';
import { TERMINAL_STATES } from '@protes/tes';
import type { TaskLease, TaskPage, TaskQuery, TaskRecord, TaskStatesJson } from './task-record';
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

export function fromDocument({
  doc,
  version,
  lease,
}: Pick<TaskDocument, 'doc' | 'version' | 'lease'>): TaskRecord {
  // Documents written before leases existed also have a version inside `doc`; the field wins.
  const record = { ...(JSON.parse(doc) as TaskRecord), version };
  if (lease) record.lease = { owner: lease.owner, expiresAt: lease.expiresAt };
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

/** Unfinished tasks that anyone may claim at `now`: no lease or an expired one. */
export function claimableFilter(now: Date): QueryFilter<TaskDocument> {
  return {
    state: UNFINISHED,
    // Matches a missing lease too; every stored lease has an expiry.
    $or: [{ 'lease.expiry': null }, { 'lease.expiry': { $lte: now } }],
  };
}

/** Unfinished tasks whose lease `owner` holds. */
const heldFilter = (owner: string): QueryFilter<TaskDocument> => ({
  'lease.owner': { $eq: owner },
  state: UNFINISHED,
});

/**
 * TaskStore on MongoDB (distributed mode). Same layout and rules as the SQLite store: indexed
 * copies of the filtered fields, the record as JSON, newest first by the time-ordered id.
 *
 * Leases rely on MongoDB's single-document atomicity: each task is claimed by a findOneAndUpdate
 * whose filter requires the lease to be claimable, so of two trackers racing for a task the server
 * lets only one update match, and the other moves on.
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
    return found ? fromDocument(found) : undefined;
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    checkPageSize(query.pageSize);
    const found = await this.tasks
      .find(taskFilter(query), RECORD_FIELDS)
      .sort({ _id: -1 })
      .limit(query.pageSize + 1)
      .lean();
    return toPage(found.map(fromDocument), query.pageSize);
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
    return found.map(fromDocument);
  }

  async claim(
    owner: string,
    leaseMs: number,
    limit: number,
    now = new Date(),
  ): Promise<TaskRecord[]> {
    const lease = toLeaseDocument(newLease(owner, leaseMs, now));
    checkClaimLimit(limit);
    await this.tasks.updateMany(
      { ...heldFilter(owner), 'lease.expiry': { $lt: new Date(now.getTime() + leaseMs / 2) } },
      { $set: { lease }, $inc: { version: 1 } },
    );
    const claimable = claimableFilter(now);
    const claimed: TaskRecord[] = [];
    let after: string | undefined;
    // One query for the oldest candidates, then one conditional update each. A candidate a rival
    // took in between no longer matches its update and is skipped; the next round looks past the
    // last candidate, so the loop ends.
    while (claimed.length < limit) {
      const candidates = await this.tasks
        .find(after === undefined ? claimable : { ...claimable, _id: { $gt: after } }, { _id: 1 })
        .sort({ _id: 1 })
        .limit(limit - claimed.length)
        .lean();
      if (!candidates.length) break;
      const taken = await Promise.all(
        candidates.map(({ _id }) =>
          this.tasks
            .findOneAndUpdate(
              { ...claimable, _id: { $eq: _id } },
              { $set: { lease }, $inc: { version: 1 } },
              { returnDocument: 'after', projection: RECORD_FIELDS },
            )
            .lean(),
        ),
      );
      for (const found of taken) if (found) claimed.push(fromDocument(found));
      after = candidates[candidates.length - 1]._id;
    }
    return claimed;
  }

  async listHeld(owner: string): Promise<TaskRecord[]> {
    checkLeaseOwner(owner);
    const found = await this.tasks.find(heldFilter(owner), RECORD_FIELDS).lean();
    return found.map(fromDocument);
  }

  async renew(owner: string, ids: string[], leaseMs: number, now = new Date()): Promise<string[]> {
    const lease = toLeaseDocument(newLease(owner, leaseMs, now));
    const wanted = uniqueIds(ids);
    if (!wanted.length) return [];
    const held: QueryFilter<TaskDocument> = { _id: { $in: wanted }, ...heldFilter(owner) };
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
