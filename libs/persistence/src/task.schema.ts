import { Schema } from 'mongoose';
import { TES_STATES, type TesState } from '@protes/tes';

/** A record's lease as MongoDB keeps it. */
export interface LeaseDocument {
  owner: string;
  /** As the record has it, so that the record reads back exactly as it was written. */
  expiresAt: string;
  /** The same instant as a Date, which is what queries compare (the text may carry any offset). */
  expiry: Date;
}

/**
 * One task as MongoDB keeps it: the fields list filters on, copied out of the record, plus the
 * record itself as JSON in `doc`, without the version and the lease, which live only in their own
 * fields so that claim, renew and release can change them in one atomic update. Keeping the record opaque spares it MongoDB's rules on field
 * names: tags, env and backend_parameters keys are user data and may contain '.' or start with '$'.
 *
 * A plain mongoose Schema rather than @nestjs/mongoose's decorators: MongooseModule.forFeature takes
 * it as it is, and the decorators would only restate these types.
 */
export interface TaskDocument {
  /** The record id; time-ordered, so sorting on _id is sorting by creation. */
  _id: string;
  owner: string;
  state: TesState;
  name?: string;
  /** Pairs rather than a sub-document, for the same reason `doc` is a string. */
  tags: { k: string; v: string }[];
  createdAt: string;
  /** The node the task is bound to, for the per-node load (null when none). */
  node?: string | null;
  version: number;
  /** Absent when no tracker holds the task. */
  lease?: LeaseDocument;
  doc: string;
}

export const TASK_MODEL = 'Task';

export const taskSchema = new Schema<TaskDocument>(
  {
    _id: { type: String, required: true },
    owner: { type: String, required: true },
    state: { type: String, required: true, enum: TES_STATES },
    name: String,
    // k and v are not `required`: mongoose would refuse '' and TES allows empty tag values.
    tags: { type: [new Schema({ k: String, v: String }, { _id: false })], default: [] },
    createdAt: { type: String, required: true },
    node: { type: String, default: null },
    version: { type: Number, required: true },
    // A single nested schema, not a plain nested object: mongoose leaves it undefined when unset
    // instead of storing an empty object, so "no lease" is one thing, the field's absence.
    lease: new Schema<LeaseDocument>(
      {
        owner: { type: String, required: true },
        expiresAt: { type: String, required: true },
        expiry: { type: Date, required: true },
      },
      { _id: false },
    ),
    doc: { type: String, required: true },
  },
  { collection: 'tasks', versionKey: false },
);

// Filters combined with newest-first order on _id.
taskSchema.index({ owner: 1, _id: -1 });
taskSchema.index({ state: 1, _id: -1 });
taskSchema.index({ name: 1, _id: -1 });
// Tag filters, newest first: key and value, or the key alone (an empty filter value).
taskSchema.index({ 'tags.k': 1, 'tags.v': 1, _id: -1 });
taskSchema.index({ 'tags.k': 1, _id: -1 });
// claim and listHeld: the free tasks (no owner) and an owner's tasks; leases expire by owner
// (lease_owners), so no query compares the tasks' own expiry. Unfinished tasks are few next to
// finished ones, so state comes second, where the $nin bounds skip past the finished tasks' keys.
taskSchema.index({ 'lease.owner': 1, state: 1 });
// The per-node load: a count per node of the unfinished tasks, from the index alone.
taskSchema.index({ node: 1, state: 1 });
