import { Schema } from 'mongoose';
import { TES_STATES, type TesState } from '@protes/tes';

/**
 * One task as MongoDB keeps it: the fields list filters on, copied out of the record, plus the
 * record itself as JSON in `doc`. Keeping the record opaque spares it MongoDB's rules on field
 * names: tags, env and backend_parameters keys are user data and may contain '.' or start with '$'.
 *
 * A plain mongoose Schema rather than @nestjs/mongoose decorators: the adapter opens its own
 * connection because the driver is chosen from options at runtime, so MongooseModule.forFeature
 * would not be used and the decorators would only restate these types.
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
  version: number;
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
    version: { type: Number, required: true },
    doc: { type: String, required: true },
  },
  { collection: 'tasks', versionKey: false },
);

// Filters combined with newest-first order on _id.
taskSchema.index({ owner: 1, _id: -1 });
taskSchema.index({ state: 1, _id: -1 });
taskSchema.index({ name: 1, _id: -1 });
taskSchema.index({ 'tags.k': 1, 'tags.v': 1 });
