/**
 * The task documents each client builds, as its code builds them (field by field, in its order,
 * with what it leaves out). Values that depend on a user's machine (paths, images, job ids) are
 * made up, but of the kind each client produces.
 */

/** The spec's minimum for `tesInput.content`, and Snakemake's inline limit (max_file_size). */
export const CONTENT_MINIMUM_BYTES = 131_072;

/** `text` padded with ASCII comment lines to exactly `bytes` UTF-8 bytes. */
function padToBytes(text: string, bytes: number): string {
  let out = text;
  while (Buffer.byteLength(out, 'utf8') < bytes) {
    const missing = bytes - Buffer.byteLength(out, 'utf8');
    out += missing > 80 ? `# ${'-'.repeat(76)}\n` : '#'.repeat(missing);
  }
  if (Buffer.byteLength(out, 'utf8') !== bytes) throw new Error('padding overshot');
  return out;
}

/**
 * A Snakefile of exactly `bytes` bytes: rules, shell blocks with quotes, braces and backslashes,
 * and non-ASCII text (which py-tes sends as `\u` escapes).
 */
export function snakefileOf(rule: string, bytes = CONTENT_MINIMUM_BYTES): string {
  const head = [
    '# Variant calling, Müller lab — µ-scale samples ✓',
    'configfile: "config.yaml"',
    'SAMPLES = ["A", "B", "C"]',
    '',
    `rule ${rule}:`,
    '    input: "data/{sample}.fastq"',
    '    output: "results/{sample}.bam"',
    '    log: "logs/{sample}.log"',
    '    threads: 2',
    '    shell:',
    '        r"""',
    '        bwa mem -t {threads} ref.fa {input} 2> {log} | samtools view -b - > {output}',
    '        awk \'BEGIN { FS = "\\t" } { print $1 }\' {input} | sort -u > /dev/null',
    '        """',
    '',
  ].join('\n');
  let body = head;
  for (let i = 0; Buffer.byteLength(body, 'utf8') < bytes - 400; i++) {
    body += `\nrule extra_${i}:\n    output: "extra/${i}.txt"\n    shell: "echo '{wildcards}' > {output}"\n`;
  }
  return padToBytes(body, bytes);
}

/** The job script Snakemake writes for a job (`get_jobscript`), passed inline. */
export function snakemakeJobscript(rule: string, jobid: number): string {
  const properties = JSON.stringify({
    type: 'single',
    rule,
    local: false,
    input: ['data/A.fastq'],
    output: ['results/A.bam'],
    wildcards: { sample: 'A' },
    params: {},
    log: ['logs/A.log'],
    threads: 2,
    resources: { mem_mb: 1000, disk_mb: 1000, tmpdir: '<TBD>' },
    jobid,
    cluster: {},
  });
  return [
    '#!/bin/sh',
    `# properties = ${properties}`,
    "mkdir /tmp/conda && cd /tmp && python -m snakemake --snakefile '/tmp/Snakefile' " +
      `--target-jobs '${rule}:sample=A' --allowed-rules '${rule}' --cores all ` +
      "--attempt 1 --force-use-threads --wait-for-files '/tmp/data/A.fastq' " +
      '--force --target-files-omit-workdir-adjustment --keep-storage-local-copies ' +
      '--max-inventory-time 0 --nocolor --notemp --no-hooks --nolock ' +
      '--ignore-incomplete --verbose --rerun-triggers mtime code input params software-env ' +
      '--conda-frontend mamba --shared-fs-usage none --wrapper-prefix ' +
      "'https://github.com/snakemake/snakemake-wrappers/raw/' --latency-wait 5 " +
      '--scheduler ilp --local-storage-prefix .snakemake/storage --mode remote',
    '',
  ].join('\n');
}

/**
 * A job as snakemake-executor-plugin-tes submits it (`_get_task` in
 * snakemake_executor_plugin_tes/__init__.py), after py-tes's `as_json` dropped the `None`s:
 * name `snakejob.<rule>.<jobid>.sh`; `description` the job message, "" when there is none (kept,
 * as it is not None); the Snakefile and the job script inline as `content` (py-tes's Input keeps
 * `type: FILE`); job inputs, outputs and logs as `file://` URLs under `/tmp`; one executor
 * `/bin/bash /tmp/run_snakemake.sh` in `/tmp`; `resources: {}` when the job sets none; no tags.
 */
export function snakemakeTask(options: {
  rule: string;
  jobid: number;
  workflowDir?: string;
  snakefileBytes?: number;
}): Record<string, unknown> {
  const dir = options.workflowDir ?? '/home/alice/variant-calling';
  return {
    name: `snakejob.${options.rule}.${options.jobid}.sh`,
    description: '',
    inputs: [
      {
        path: '/tmp/Snakefile',
        type: 'FILE',
        content: snakefileOf(options.rule, options.snakefileBytes),
      },
      { url: `file://${dir}/data/A.fastq`, path: '/tmp/data/A.fastq', type: 'FILE' },
      {
        path: '/tmp/run_snakemake.sh',
        type: 'FILE',
        content: snakemakeJobscript(options.rule, options.jobid),
      },
    ],
    outputs: [
      { url: `file://${dir}/results/A.bam`, path: '/tmp/results/A.bam', type: 'FILE' },
      { url: `file://${dir}/logs/A.log`, path: '/tmp/logs/A.log', type: 'FILE' },
    ],
    resources: {},
    executors: [
      {
        image: 'snakemake/snakemake:v8.27.1',
        command: ['/bin/bash', '/tmp/run_snakemake.sh'],
        workdir: '/tmp',
      },
    ],
  };
}

/**
 * A process as Nextflow's TES executor submits it (`newTesTask` in TesTaskHandler.groovy of
 * nf-ga4gh): the wrapper scripts as `file://` inputs under `/work`; one executor
 * `bash -o pipefail -c 'bash /work/.command.run 2>&1 | tee /work/.command.log'` in `/work`; the
 * control files as outputs; one output per declared pattern, and a glob pattern gets
 * `path_prefix: /work` with the task's work directory as `url`; resources as Nextflow computes them
 * (`ram_gb` a double); the executor's configured tags.
 */
export function nextflowTask(options: {
  name: string;
  hash?: string;
  tags?: Record<string, string>;
}): Record<string, unknown> {
  const work = `file:///home/alice/pipeline/work/${options.hash ?? '3a/9f1c2e0b7d64a5'}`;
  const control = ['.command.out', '.command.err', '.command.log', '.exitcode'];
  return {
    name: options.name,
    inputs: [
      { url: `${work}/.command.sh`, path: '/work/.command.sh', type: 'FILE' },
      { url: `${work}/.command.run`, path: '/work/.command.run', type: 'FILE' },
      {
        url: 'file:///home/alice/pipeline/data/reads_1.fq.gz',
        path: '/work/reads_1.fq.gz',
        type: 'FILE',
      },
    ],
    outputs: [
      ...control.map((file) => ({ url: `${work}/${file}`, path: `/work/${file}`, type: 'FILE' })),
      { url: `${work}/aligned.bam`, path: '/work/aligned.bam', type: 'FILE' },
      { url: work, path: '/work/*.bai', path_prefix: '/work', type: 'FILE' },
      { url: work, path: '/work/qc_*', path_prefix: '/work', type: 'DIRECTORY' },
    ],
    resources: { cpu_cores: 2, ram_gb: 1.5, disk_gb: 10.0 },
    executors: [
      {
        image: 'quay.io/biocontainers/bwa:0.7.17--h5bf99c6_8',
        command: [
          'bash',
          '-o',
          'pipefail',
          '-c',
          'bash /work/.command.run 2>&1 | tee /work/.command.log',
        ],
        workdir: '/work',
      },
    ],
    ...(options.tags && { tags: options.tags }),
  };
}

/**
 * A CommandLineTool job as cwl-tes submits it (`create_task_msg` in cwl_tes/tes.py): inputs named
 * and described `cwl_input:<name>` with FTP/S3 URLs; stdout and stderr outputs; always a `workdir`
 * output of type DIRECTORY at the output directory; the executor with the tool's command line,
 * `workdir`, stdout/stderr paths and `env` (HOME, TMPDIR); resources converted from MiB (floats);
 * tags `CWLDocumentId`, `tool_name`, `job_id`, `workflow_id`.
 */
export function cwlTesTask(options: {
  toolName: string;
  workflowId: string;
  extraTags?: Record<string, string>;
}): Record<string, unknown> {
  const outdir = '/var/spool/cwl';
  const storage = `ftp://ftp.example.org/cwl-out/output_${options.workflowId}`;
  return {
    name: options.toolName,
    description: 'Computes the md5 of a file.',
    inputs: [
      {
        url: 'ftp://ftp.example.org/inputs/whale.txt',
        path: '/var/lib/cwl/stg1b2c3/whale.txt',
        type: 'FILE',
        name: 'input_file',
        description: 'cwl_input:input_file',
      },
      {
        url: 's3://cwl-bucket/refs/index.tar',
        path: '/var/lib/cwl/stg4d5e6/index.tar',
        type: 'FILE',
        name: 'index',
        description: 'cwl_input:index',
      },
    ],
    outputs: [
      {
        url: `${storage}/md5.txt`,
        path: `${outdir}/md5.txt`,
        type: 'FILE',
        name: 'stdout',
      },
      { url: storage, path: outdir, type: 'DIRECTORY', name: 'workdir' },
    ],
    resources: { cpu_cores: 1, ram_gb: 1024 / 953.674, disk_gb: 2048 / 953.674 },
    executors: [
      {
        image: 'python:3.9',
        command: ['md5sum', '/var/lib/cwl/stg1b2c3/whale.txt'],
        workdir: outdir,
        stdout: `${outdir}/md5.txt`,
        env: { HOME: outdir, TMPDIR: '/tmp' },
      },
    ],
    tags: {
      CWLDocumentId: 'file:///home/alice/workflows/md5.cwl#main',
      tool_name: options.toolName,
      job_id: options.toolName,
      workflow_id: options.workflowId,
      ...options.extraTags,
    },
  };
}

/**
 * A task file as Funnel users write them for `funnel task create` (Funnel's own examples: S3 input,
 * stdout to a file, `volumes`), with the TES field names protojson reads and writes.
 */
export function funnelTask(options: {
  name: string;
  tags?: Record<string, string>;
}): Record<string, unknown> {
  return {
    name: options.name,
    description: 'md5 of an S3 object',
    inputs: [{ name: 'infile', url: 's3://funnel-bucket/hello.txt', path: '/inputs/hello.txt' }],
    outputs: [{ url: 's3://funnel-bucket/hello.md5', path: '/outputs/hello.md5' }],
    resources: { cpu_cores: 1, ram_gb: 1, disk_gb: 10 },
    executors: [
      {
        image: 'alpine',
        command: ['md5sum', '/inputs/hello.txt'],
        stdout: '/outputs/hello.md5',
      },
    ],
    volumes: ['/vol/shared'],
    ...(options.tags && { tags: options.tags }),
  };
}
