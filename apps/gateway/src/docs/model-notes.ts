import type { TesTaskRequest } from '@protes/tes';
import type { ModelNotes } from './openapi-schemas';

/** A task as the examples of the document submit it. */
export const EXAMPLE_TASK: TesTaskRequest = {
  name: 'md5 of reads',
  inputs: [{ url: 's3://my-bucket/reads.fastq', path: '/data/reads.fastq', type: 'FILE' }],
  outputs: [{ url: 's3://my-bucket/reads.md5', path: '/data/reads.md5', type: 'FILE' }],
  resources: { cpu_cores: 1, ram_gb: 2, backend_parameters: { VmSize: 'Standard_D2_v3' } },
  executors: [
    {
      image: 'ubuntu:24.04',
      command: ['md5sum', '/data/reads.fastq'],
      stdout: '/data/reads.md5',
      env: { LC_ALL: 'C' },
    },
  ],
  tags: { project: 'demo' },
};

export const EXAMPLE_TASK_ID = '01JDQ7ZV8M3XKQ4T6C2B9N5R1A';

const readOnly = { readOnly: true };
const rfc3339 = { examples: ['2026-11-30T10:00:00Z'] };

/**
 * What the OpenAPI document says of the TES models beyond their types: descriptions, examples and
 * which fields only the server sets (`readOnly`), in our words; the TES specification has the full
 * text.
 */
export const TES_MODEL_NOTES: Readonly<Record<string, ModelNotes>> = {
  tesState: {
    description:
      'Where a task is. QUEUED, INITIALIZING, RUNNING, PAUSED and CANCELING are active; COMPLETE, ' +
      'EXECUTOR_ERROR (an executor exited non-zero), SYSTEM_ERROR, CANCELED and PREEMPTED are ' +
      'final; UNKNOWN when it cannot be told.',
    example: 'COMPLETE',
  },
  tesFileType: { description: 'Whether an input or output is one file or a whole directory.' },
  tesInput: {
    description:
      'A file placed in the container before the executors run: from `url` or `content`.',
    properties: {
      url: { examples: ['s3://my-bucket/reads.fastq'] },
      path: { examples: ['/data/reads.fastq'] },
    },
  },
  tesOutput: {
    description: 'A file copied from the container to `url` once the executors have run.',
    properties: {
      url: { examples: ['s3://my-bucket/reads.md5'] },
      path: { examples: ['/data/reads.md5'] },
    },
  },
  tesExecutor: {
    description: 'A command to run in a container; the executors of a task run one after another.',
    properties: {
      image: { examples: ['ubuntu:24.04'] },
      command: { examples: [['md5sum', '/data/reads.fastq']] },
      workdir: { examples: ['/data'] },
      stdout: { examples: ['/data/reads.md5'] },
      env: { examples: [{ LC_ALL: 'C' }] },
    },
  },
  tesResources: {
    description: 'What the task asks of the node that runs it.',
    properties: {
      cpu_cores: { examples: [4] },
      ram_gb: { format: 'double', examples: [8] },
      disk_gb: { format: 'double', examples: [40] },
      zones: { examples: [['eu-west-1']] },
      backend_parameters: { examples: [{ VmSize: 'Standard_D2_v3' }] },
    },
  },
  tesExecutorLog: {
    description: 'What one executor did.',
    properties: { start_time: rfc3339, end_time: rfc3339 },
  },
  tesOutputFileLog: {
    description: 'One file the task wrote out.',
    properties: { size_bytes: { examples: ['1024'] } },
  },
  tesTaskLog: {
    description: 'One attempt at the task: one entry per run, a new one when it was run again.',
    properties: {
      start_time: rfc3339,
      end_time: rfc3339,
      metadata: { examples: [{ protes_node: 'heidelberg' }] },
    },
  },
  tesTaskRequest: {
    description: 'A task as a client submits it: what the client may set.',
    example: EXAMPLE_TASK,
  },
  tesTask: {
    description:
      'A task as the server shows it. `view` decides which fields come: MINIMAL only `id` and ' +
      "`state`; BASIC all but the executors' stdout and stderr, inputs' `content` and " +
      '`system_logs`; FULL everything.',
    properties: {
      id: { ...readOnly, examples: [EXAMPLE_TASK_ID] },
      state: readOnly,
      logs: readOnly,
      creation_time: { ...readOnly, ...rfc3339 },
      tags: { examples: [{ project: 'demo' }] },
    },
  },
  tesCreateTaskResponse: {
    description: "The new task's id.",
    example: { id: EXAMPLE_TASK_ID },
  },
  tesListTasksResponse: {
    description: 'One page of tasks, newest first; `next_page_token` while more match.',
  },
  tesCancelTaskResponse: { description: 'The cancellation was taken.' },
  tesServiceInfo: { description: 'GA4GH service-info, with what the nodes behind proTES offer.' },
  errorResponse: {
    description: 'Every refusal: the status, a message, and for a 400 each field that is wrong.',
    example: {
      status_code: 400,
      msg: 'executors: must NOT have fewer than 1 items',
      errors: [{ field: 'executors', reason: 'must NOT have fewer than 1 items' }],
    },
  },
};
