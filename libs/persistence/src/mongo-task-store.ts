import {
  createConnection,
  mongo,
  type ConnectOptions,
  type Connection,
  type Model,
  type QueryFilter,
} from 'mongoose';
import { TERMINAL_STATES } from '@protes/tes';
import type { TaskPage, TaskQuery, TaskRecord } from './task-record';
import { StaleVersionError, TaskExistsError, TaskNotFoundError, TaskStore } from './task-store';
import { checkNewRecord, checkPageSize, decodePageToken, toPage } from './store-rules';
import { TASK_MODEL, taskSchema, type TaskDocument } from './task.schema';

const DUPLICATE_KEY = 11000;

/**
 * Every character that means something in a PCRE pattern outside a class, escaped, so that the
 * prefix is matched literally. NUL cannot travel inside a BSON regex string, hence \x00.
 */
const escapeRegex = (text: string): string =>
  text.replace(/[\\^$.*+?()[\]{}|\0]/g, (c) => (c === '\0' ? '\\x00' : `\\${c}`));

const toDocument = (record: TaskRecord): TaskDocument => ({
  _id: record.id,
  owner: record.owner,
  state: record.state,
  name: record.name,
  tags: Object.entries(record.tags).map(([k, v]) => ({ k, v })),
  createdAt: record.createdAt,
  version: record.version,
  doc: JSON.stringify(record),
});

const fromDoc = ({ doc }: Pick<TaskDocument, 'doc'>): TaskRecord => JSON.parse(doc) as TaskRecord;

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

/**
 * TaskStore on MongoDB (distributed mode). Same layout and rules as the SQLite store: indexed
 * copies of the filtered fields, the record as JSON, newest first by the time-ordered id.
 */
export class MongoTaskStore extends TaskStore {
  private readonly tasks: Model<TaskDocument>;

  /** The store takes the connection over: close() closes it. */
  constructor(private readonly connection: Connection) {
    super();
    this.tasks = connection.model<TaskDocument>(TASK_MODEL, taskSchema);
  }

  /** Connects and waits for the indexes, so that a wrong URL or missing rights fail at startup. */
  static async connect(url: string, options?: ConnectOptions): Promise<MongoTaskStore> {
    const store = new MongoTaskStore(await createConnection(url, options).asPromise());
    try {
      await store.tasks.init();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  async create(record: TaskRecord): Promise<void> {
    checkNewRecord(record);
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
    const found = await this.tasks.findById(id, { doc: 1 }).lean();
    return found ? fromDoc(found) : undefined;
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    checkPageSize(query.pageSize);
    const found = await this.tasks
      .find(taskFilter(query), { doc: 1 })
      .sort({ _id: -1 })
      .limit(query.pageSize + 1)
      .lean();
    return toPage(found.map(fromDoc), query.pageSize);
  }

  async replace(next: TaskRecord): Promise<TaskRecord> {
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
      .find({ state: { $nin: [...TERMINAL_STATES] } }, { doc: 1 })
      .sort({ _id: 1 })
      .lean();
    return found.map(fromDoc);
  }

  async ping(): Promise<void> {
    const { db } = this.connection;
    if (!db) throw new Error('MongoDB connection is not open');
    await db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
