import { TesTaskRequestSchema, type TesTaskRequest } from './models';
import {
  createTaskValidator,
  type FieldError,
  schemaValidator,
  type Validation,
} from './validation';

const KIB_128 = 128 * 1024;
const validate = createTaskValidator({ maxContentBytes: KIB_128 });

const minimal = (): Record<string, unknown> => ({
  executors: [{ image: 'alpine', command: ['true'] }],
});

function accepted(result: Validation<TesTaskRequest>): TesTaskRequest {
  if (!result.ok) throw new Error(`expected the task to be accepted: ${JSON.stringify(result)}`);
  return result.value;
}

function refused(result: Validation<TesTaskRequest>): FieldError[] {
  if (result.ok) throw new Error(`expected the task to be refused: ${JSON.stringify(result)}`);
  return result.errors;
}

describe('createTaskValidator', () => {
  it('accepts a minimal task and returns it unchanged', () => {
    const value = accepted(validate(minimal()));
    expect(value).toEqual({ executors: [{ image: 'alpine', command: ['true'] }] });
  });

  it('does not modify the body it was given', () => {
    const body = {
      ...minimal(),
      extra: 1,
      inputs: [{ path: '/in', url: 'file:///x', content: 'c' }],
    };
    const before = structuredClone(body);
    accepted(validate(body));
    expect(body).toEqual(before);
  });

  it('drops unknown fields at every level but keeps every key of the string maps', () => {
    const value = accepted(
      validate({
        surprise: 'top',
        name: 'n',
        executors: [
          {
            image: 'alpine',
            command: ['echo', 'hi'],
            gpu: true,
            env: { HOME: '/root', 'weird-key.x': 'v' },
          },
        ],
        inputs: [{ path: '/data/in', url: 's3://b/in', checksum: 'md5:1' }],
        outputs: [{ path: '/data/out', url: 's3://b/out', compress: true }],
        resources: {
          cpu_cores: 2,
          gpus: 4,
          backend_parameters: { VmSize: 'D64', 'Other/Key': 'x' },
        },
        tags: { project: 'demo', CWLDocumentId: 'abc', 'a/b~c': '' },
      }),
    );
    expect(value).toEqual({
      name: 'n',
      executors: [
        {
          image: 'alpine',
          command: ['echo', 'hi'],
          env: { HOME: '/root', 'weird-key.x': 'v' },
        },
      ],
      inputs: [{ path: '/data/in', url: 's3://b/in' }],
      outputs: [{ path: '/data/out', url: 's3://b/out' }],
      resources: { cpu_cores: 2, backend_parameters: { VmSize: 'D64', 'Other/Key': 'x' } },
      tags: { project: 'demo', CWLDocumentId: 'abc', 'a/b~c': '' },
    });
  });

  it('drops the fields only a server sets (id, state, logs, creation_time)', () => {
    const value = accepted(
      validate({
        ...minimal(),
        id: 'client-chosen',
        state: 'COMPLETE',
        logs: [{ logs: [{ exit_code: 0 }], outputs: [] }],
        creation_time: '2020-10-02T10:00:00Z',
      }),
    );
    expect(value).toEqual(minimal());
    expect(Object.keys(value).sort()).toEqual(['executors']);
  });

  const executor = { image: 'alpine', command: ['true'] };
  const invalid: [string, unknown, string, RegExp][] = [
    ['missing executors', { name: 'x' }, 'executors', /required/],
    ['empty executors', { executors: [] }, 'executors', /./],
    [
      'executor without image',
      { executors: [{ command: ['true'] }] },
      'executors[0].image',
      /required/,
    ],
    [
      'executor without command',
      { executors: [{ image: 'a' }] },
      'executors[0].command',
      /required/,
    ],
    ['empty command', { executors: [{ image: 'a', command: [] }] }, 'executors[0].command', /./],
    [
      'image a number',
      { executors: [{ image: 7, command: ['true'] }] },
      'executors[0].image',
      /string/,
    ],
    [
      'command not strings',
      { executors: [{ image: 'a', command: [1] }] },
      'executors[0].command[0]',
      /./,
    ],
    ['tags value a number', { executors: [executor], tags: { run: 3 } }, 'tags.run', /string/],
    [
      'env value a boolean',
      { executors: [{ ...executor, env: { X: true } }] },
      'executors[0].env.X',
      /./,
    ],
    [
      'cpu_cores 1.5',
      { executors: [executor], resources: { cpu_cores: 1.5 } },
      'resources.cpu_cores',
      /integer/,
    ],
    [
      'ram_gb a string',
      { executors: [executor], resources: { ram_gb: '8' } },
      'resources.ram_gb',
      /number/,
    ],
    [
      'ignore_error a string',
      { executors: [{ ...executor, ignore_error: 'yes' }] },
      'executors[0].ignore_error',
      /boolean/,
    ],
    [
      "input type 'DIR'",
      { executors: [executor], inputs: [{ path: '/in', url: 'file:///in', type: 'DIR' }] },
      'inputs[0].type',
      /FILE, DIRECTORY/,
    ],
    [
      'input with neither url nor content',
      { executors: [executor], inputs: [{ path: '/in' }] },
      'inputs[0].url',
      /required unless content/,
    ],
    [
      'input with empty content and no url',
      { executors: [executor], inputs: [{ path: '/in', content: '' }] },
      'inputs[0].url',
      /required unless content/,
    ],
    [
      'input without path',
      { executors: [executor], inputs: [{ url: 'file:///in' }] },
      'inputs[0].path',
      /required/,
    ],
    [
      'relative input path',
      { executors: [executor], inputs: [{ path: 'data/in', url: 'file:///in' }] },
      'inputs[0].path',
      /absolute/,
    ],
    [
      'relative output path',
      { executors: [executor], outputs: [{ path: 'out.txt', url: 'file:///out' }] },
      'outputs[0].path',
      /absolute/,
    ],
    [
      'output without url',
      { executors: [executor], outputs: [{ path: '/out' }] },
      'outputs[0].url',
      /required/,
    ],
    [
      'relative executor stdout',
      { executors: [executor, { ...executor, stdout: 'out.log' }] },
      'executors[1].stdout',
      /absolute/,
    ],
    [
      'relative executor stdin',
      { executors: [{ ...executor, stdin: 'in' }] },
      'executors[0].stdin',
      /./,
    ],
    [
      'relative executor stderr',
      { executors: [{ ...executor, stderr: 'e' }] },
      'executors[0].stderr',
      /./,
    ],
    [
      'output with a wildcard path and no path_prefix',
      { executors: [executor], outputs: [{ path: '/data/*.txt', url: 's3://b/dir/' }] },
      'outputs[0].path_prefix',
      /wildcard/,
    ],
    [
      'output with a ? wildcard and empty path_prefix',
      {
        executors: [executor],
        outputs: [{ path: '/data/?.txt', url: 's3://b/', path_prefix: '' }],
      },
      'outputs[0].path_prefix',
      /wildcard/,
    ],
    ['volumes not strings', { executors: [executor], volumes: [1] }, 'volumes[0]', /./],
    ['body an array', [minimal()], '(body)', /./],
    ['body a string', 'task', '(body)', /./],
    ['body null', null, '(body)', /./],
    ['body a number', 42, '(body)', /./],
  ];

  it.each(invalid)('refuses %s, naming the field', (_case, body, field, reason) => {
    const errors = refused(validate(body));
    const named = errors.filter((e) => e.field === field);
    expect(named).not.toHaveLength(0);
    expect(named.map((e) => e.reason).join('; ')).toMatch(reason);
    for (const error of errors) {
      expect(typeof error.reason).toBe('string');
      expect(error.reason).not.toBe('');
    }
  });

  it('reports every problem of a request at once', () => {
    const errors = refused(
      validate({
        executors: [{ image: 1, command: ['x'] }],
        resources: { ram_gb: 'lots' },
      }),
    );
    expect(errors.map((e) => e.field).sort()).toEqual(['executors[0].image', 'resources.ram_gb']);
  });

  it('names the allowed values of an enum once, not once per branch', () => {
    const errors = refused(
      validate({ executors: [executor], outputs: [{ path: '/o', url: 'u', type: 'dir' }] }),
    );
    expect(errors).toEqual([
      { field: 'outputs[0].type', reason: 'must be one of FILE, DIRECTORY' },
    ]);
  });

  describe('inline content', () => {
    it('accepts content of exactly 128 KiB', () => {
      const content = 'x'.repeat(KIB_128);
      const value = accepted(validate({ ...minimal(), inputs: [{ path: '/in', content }] }));
      expect(value.inputs?.[0].content).toHaveLength(KIB_128);
    });

    it('refuses content over the configured limit, counting UTF-8 bytes', () => {
      const small = createTaskValidator({ maxContentBytes: 10 });
      accepted(small({ ...minimal(), inputs: [{ path: '/in', content: '0123456789' }] }));
      const errors = refused(
        small({ ...minimal(), inputs: [{ path: '/in', content: '01234567890' }] }),
      );
      expect(errors).toEqual([{ field: 'inputs[0].content', reason: 'must not exceed 10 bytes' }]);
      // Four characters, but twelve bytes in UTF-8.
      expect(
        refused(small({ ...minimal(), inputs: [{ path: '/in', content: '€€€€' }] }))[0].field,
      ).toBe('inputs[0].content');
    });

    it('refuses content over the default limit used by the gateway', () => {
      const content = 'x'.repeat(KIB_128 + 1);
      const errors = refused(validate({ ...minimal(), inputs: [{ path: '/in', content }] }));
      expect(errors.map((e) => e.field)).toEqual(['inputs[0].content']);
    });

    it('drops url when content is non-empty, as the spec says url must be ignored', () => {
      const value = accepted(
        validate({
          ...minimal(),
          inputs: [
            { path: '/a', content: 'hello', url: 's3://b/a' },
            { path: '/b', content: '', url: 's3://b/b' },
          ],
        }),
      );
      expect(value.inputs).toEqual([
        { path: '/a', content: 'hello' },
        { path: '/b', content: '', url: 's3://b/b' },
      ]);
    });
  });

  it('keeps every TES 1.1 field that clients send', () => {
    const task: TesTaskRequest = {
      name: 'cwl step',
      description: 'all the fields',
      inputs: [
        {
          name: 'reads',
          description: 'fastq',
          url: 's3://bucket/reads.fq',
          path: '/data/reads.fq',
          type: 'FILE',
          streamable: true,
        },
        { path: '/data/ref', url: 'ftp://host/ref/', type: 'DIRECTORY', streamable: false },
      ],
      outputs: [
        {
          name: 'results',
          description: 'all txt files',
          url: 's3://bucket/results/',
          path: '/data/out/*.txt',
          path_prefix: '/data/out/',
          type: 'FILE',
        },
        { url: 'file:///tmp/workdir', path: '/workdir', type: 'DIRECTORY' },
      ],
      resources: {
        cpu_cores: 4,
        preemptible: true,
        ram_gb: 7.5,
        disk_gb: 40,
        zones: ['us-west-1', 'eu-central-1'],
        backend_parameters: { VmSize: 'Standard_D64_v3', queue: 'long' },
        backend_parameters_strict: true,
      },
      executors: [
        {
          image: 'ubuntu:20.04',
          command: ['/bin/sh', '-c', 'md5sum /data/reads.fq'],
          workdir: '/data/',
          stdin: '/data/reads.fq',
          stdout: '/tmp/stdout.log',
          stderr: '/tmp/stderr.log',
          env: { BLASTDB: '/data/GRC38' },
          ignore_error: true,
        },
        { image: 'alpine', command: ['true'], ignore_error: false },
      ],
      volumes: ['/vol/A/'],
      tags: { CWLDocumentId: 'doc', tool_name: 'md5', job_id: '1', workflow_id: 'w' },
    };
    const value = accepted(validate(structuredClone(task)));
    expect(value).toEqual(task);
    expect(schemaValidator(TesTaskRequestSchema)(value)).toBe(true);
  });
});

describe('schemaValidator', () => {
  it('checks without removing anything', () => {
    const check = schemaValidator<TesTaskRequest>(TesTaskRequestSchema);
    const body = { ...minimal(), extra: 1 };
    expect(check(body)).toBe(true);
    expect(body).toHaveProperty('extra', 1);
    expect(check({ executors: [] })).toBe(false);
  });
});
