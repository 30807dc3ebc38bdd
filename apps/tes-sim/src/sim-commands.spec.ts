import { simulateCommand } from './sim-commands';

const run = (argv: string[], env?: Record<string, string>) => simulateCommand(argv, env);
const sh = (script: string, env?: Record<string, string>) => run(['/bin/sh', '-c', script], env);

describe('simulateCommand: one program', () => {
  it.each([
    [['exit', '3'], 3],
    [['exit', '0'], 0],
    [['exit', '256'], 0],
    [['exit', '-1'], 255],
    [['true'], 0],
    [[':'], 0],
    [['false'], 1],
    [['/bin/false'], 1],
    [['cd', '/data'], 0],
  ])('%j exits %i with no output', (argv, exitCode) => {
    expect(run(argv)).toEqual({ exitCode, stdout: '', stderr: '', sleepSeconds: 0 });
  });

  it('echoes its arguments with a newline, as sh does', () => {
    expect(run(['echo', 'hello', 'world'])).toMatchObject({ exitCode: 0, stdout: 'hello world\n' });
    expect(run(['echo'])).toMatchObject({ stdout: '\n' });
    expect(run(['echo', '-n', 'x'])).toMatchObject({ stdout: 'x' });
    expect(run(['/usr/bin/echo', '-e', 'a\\tb\\nc'])).toMatchObject({ stdout: 'a\tb\nc\n' });
    expect(run(['echo', '-E', 'a\\nb'])).toMatchObject({ stdout: 'a\\nb\n' });
    // An argv is not a shell: nothing is expanded.
    expect(run(['echo', '$HOME'], { HOME: '/root' })).toMatchObject({ stdout: '$HOME\n' });
  });

  it('sleeps for simulated seconds, with suffixes, and refuses a bad interval', () => {
    expect(run(['sleep', '5'])).toEqual({ exitCode: 0, stdout: '', stderr: '', sleepSeconds: 5 });
    expect(run(['sleep', '1.5', '1m']).sleepSeconds).toBe(61.5);
    expect(run(['sleep', 'soon'])).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: "sleep: invalid time interval 'soon'\n",
      sleepSeconds: 0,
    });
    expect(run(['sleep'])).toMatchObject({ exitCode: 1, stderr: 'sleep: missing operand\n' });
  });

  it('answers 127 for a program it does not know', () => {
    expect(run(['frobnicate', '--all'])).toEqual({
      exitCode: 127,
      stdout: '',
      stderr: 'frobnicate: command not found\n',
      sleepSeconds: 0,
    });
  });

  it.each([
    ['md5sum', '/data/in.txt'],
    ['cat', '/data/in.txt'],
    ['samtools', 'index', 'x.bam'],
    ['/opt/pipeline/run.sh', '--fast'],
    ['./tool'],
    ['bash', '/scripts/step.sh'],
  ])(
    'runs a known program or a path (%s) with exit 0 and its command line as stdout',
    (...argv) => {
      expect(run(argv)).toEqual({
        exitCode: 0,
        stdout: `${argv.join(' ')}\n`,
        stderr: '',
        sleepSeconds: 0,
      });
    },
  );

  it('follows the command behind env, exec, time and command', () => {
    expect(run(['env', 'A=1', 'false']).exitCode).toBe(1);
    expect(run(['/usr/bin/env', 'bash', '-c', 'exit 4']).exitCode).toBe(4);
    expect(run(['time', 'sleep', '2']).sleepSeconds).toBe(2);
    expect(run(['exec', 'nope']).exitCode).toBe(127);
  });
});

describe('simulateCommand: sh -c scripts', () => {
  it('runs the script command by command, the last status being the exit code', () => {
    expect(sh('echo one; echo two')).toMatchObject({ exitCode: 0, stdout: 'one\ntwo\n' });
    expect(sh('false; echo after')).toMatchObject({ exitCode: 0, stdout: 'after\n' });
    expect(sh('echo a\nfalse')).toMatchObject({ exitCode: 1, stdout: 'a\n' });
    expect(run(['bash', '-c', 'exit 3'])).toMatchObject({ exitCode: 3 });
    expect(run(['sh', '-c', 'echo x; exit 7; echo never'])).toMatchObject({
      exitCode: 7,
      stdout: 'x\n',
    });
  });

  it('follows && and || and stops at a failure under set -e or sh -e', () => {
    expect(sh('false && echo no || echo yes')).toMatchObject({ exitCode: 0, stdout: 'yes\n' });
    expect(sh('true &&\n  echo next')).toMatchObject({ stdout: 'next\n' });
    expect(sh('set -e; echo a; false; echo b')).toMatchObject({ exitCode: 1, stdout: 'a\n' });
    expect(run(['bash', '-ec', 'echo a; false; echo b'])).toMatchObject({ exitCode: 1 });
    expect(run(['bash', '-eu', '-o', 'pipefail', '-c', 'false && true; echo c'])).toMatchObject({
      exitCode: 0,
      stdout: 'c\n',
    });
  });

  it('reports an unknown program with 127 and runs known ones', () => {
    expect(sh('nosuchtool --x')).toMatchObject({
      exitCode: 127,
      stderr: 'nosuchtool: command not found\n',
    });
    expect(sh('md5sum /data/in.txt > /data/out.txt; echo done')).toMatchObject({
      exitCode: 0,
      stdout: 'done\n',
    });
  });

  it('adds up sleeps and keeps quoting, variables and redirections', () => {
    expect(sh('sleep 2; sleep 3 && echo up').sleepSeconds).toBe(5);
    expect(sh(`echo 'a  b' "c $NAME" \${NAME}x $? # comment`, { NAME: 'n' })).toMatchObject({
      stdout: 'a  b c n nx 0\n',
    });
    expect(sh('X=1; export Y=2; echo $X$Y$UNSET')).toMatchObject({ stdout: '12\n' });
    expect(sh('echo hidden > /tmp/f; echo err >&2; nope 2>/dev/null; echo $?')).toMatchObject({
      exitCode: 0,
      stdout: '127\n',
      stderr: 'err\n',
    });
    expect(sh('nope 2>&1')).toMatchObject({ stdout: 'nope: command not found\n', stderr: '' });
    // Within a pipeline, only the last command's stdout is seen; its status counts.
    expect(sh('echo x | md5sum')).toMatchObject({ exitCode: 0, stdout: 'md5sum\n' });
    expect(sh('echo x | false')).toMatchObject({ exitCode: 1, stdout: '' });
  });

  it('takes a script it cannot follow as a known program, and a broken one as exit 2', () => {
    const script = 'for f in *.txt; do cat "$f"; done';
    expect(run(['bash', '-c', script])).toMatchObject({
      exitCode: 0,
      stdout: `bash -c ${script}\n`,
    });
    expect(sh('echo $(date)').exitCode).toBe(0);
    expect(sh("echo 'open")).toMatchObject({ exitCode: 2, stderr: expect.stringMatching(/quote/) });
    expect(sh('&& echo')).toMatchObject({ exitCode: 2 });
    expect(run(['sh', '-c'])).toMatchObject({ exitCode: 2 });
  });
});
