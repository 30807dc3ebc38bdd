/**
 * The simulation's rules: what an executor's command does when nothing is executed. Each rule looks
 * only at the command's words, so the outcome of a task can be told from the task itself, and the
 * README lists the same rules for users:
 *
 * - `exit N` → exit code N (mod 256); `true` and `:` → 0; `false` → 1;
 * - `echo ARGS` → stdout "ARGS\n" (`-n`, `-e` and `-E` as in sh), exit 0;
 * - `sleep N` (seconds; suffixes s, m, h, d) → exit 0 after N simulated seconds;
 * - `cd`, `export`, `set`, `test`, `[`, `wait`, `unset`, `umask` → exit 0, no output;
 * - `env …`, `exec …`, `time …`, `command …` → the rules of the command they run;
 * - a shell (`sh`, `bash`, …) with `-c SCRIPT` → the script, followed command by command;
 * - a known program ({@link KNOWN_PROGRAMS}) or any program named by a path (`/opt/x/run.sh`,
 *   `./tool`: the image is taken to hold it) → exit 0, and its command line as stdout, as a trace of
 *   what a real node would have run;
 * - anything else → exit 127, stderr "PROG: command not found".
 *
 * A program named by a path is judged by its last component first (`/bin/false` is `false`).
 */

export interface SimulatedRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Simulated seconds spent in `sleep`; the node scales them to real time. */
  sleepSeconds: number;
}

/** Shells whose `-c SCRIPT` is followed command by command. */
export const SHELLS: ReadonlySet<string> = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh']);

/**
 * Programs a workflow's image commonly holds: they "run" with exit code 0. The list is fixed so
 * that an unknown program's 127 is predictable; a program given by a path is always taken as known.
 */
export const KNOWN_PROGRAMS: ReadonlySet<string> = new Set(
  [
    // files and text (coreutils and friends)
    'awk basename bzip2 cat chmod chown cksum cmp comm cp curl cut date df diff dirname du find gawk',
    'grep gunzip gzip head hostname id join ln ls md5sum mkdir mv nproc paste printf pwd readlink',
    'realpath rm rmdir sed seq sha1sum sha256sum sha512sum sort split stat tail tar tee touch tr',
    'uname uniq unzip wc wget whoami xargs xz zcat zip',
    // interpreters and build tools
    'java make node perl python python3 R Rscript ruby',
    // bioinformatics
    'bcftools bedtools bgzip blastn bowtie2 bwa cutadapt fastqc gatk hisat2 minimap2 multiqc picard',
    'salmon samtools STAR tabix trimmomatic',
  ]
    .join(' ')
    .split(' '),
);

/** Builtins that succeed silently. */
const SILENT = new Set(['cd', 'export', 'set', 'test', '[', 'wait', 'unset', 'umask', 'true', ':']);
/** Wrappers that run the command after their own options and assignments. */
const WRAPPERS = new Set(['env', 'exec', 'time', 'command']);
/** Words that start shell syntax this simulator does not follow. */
const KEYWORDS = new Set(
  'if then else elif fi for while until do done case esac function select { } ! [['.split(' '),
);

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** The simulated outcome of an executor's command (an argv, as TES gives it). */
export function simulateCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string>> = {},
): SimulatedRun {
  const run = runWords([...argv], { env: { ...env }, status: 0, errexit: false });
  return {
    exitCode: run.exitCode,
    stdout: run.stdout,
    stderr: run.stderr,
    sleepSeconds: run.sleep,
  };
}

interface ShellState {
  env: Record<string, string>;
  /** `$?`: the status of the last pipeline. */
  status: number;
  errexit: boolean;
}

interface WordsRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  sleep: number;
  /** `exit` was called: the script ends here. */
  exits?: boolean;
}

const ok = (stdout = ''): WordsRun => ({ exitCode: 0, stdout, stderr: '', sleep: 0 });
const fail = (exitCode: number, stderr: string): WordsRun => ({
  exitCode,
  stdout: '',
  stderr,
  sleep: 0,
});

const programName = (word: string): string => word.slice(word.lastIndexOf('/') + 1);

/** One command's words (already expanded), by the rules above. */
function runWords(words: string[], state: ShellState): WordsRun {
  if (words.length === 0) return ok();
  const [program, ...args] = words;
  const name = programName(program);
  if (WRAPPERS.has(name)) {
    let i = 0;
    while (i < args.length && (args[i].startsWith('-') || ASSIGNMENT.test(args[i]))) i++;
    return i < args.length ? runWords(args.slice(i), state) : ok(`${words.join(' ')}\n`);
  }
  if (SHELLS.has(name)) return runShell(program, args, state);
  switch (name) {
    case 'exit':
      return runExit(args, state);
    case 'false':
      return fail(1, '');
    case 'echo':
      return ok(echo(args));
    case 'sleep':
      return sleep(args);
    case 'set':
      for (const arg of args) {
        if (/^-[A-Za-z]*e/.test(arg)) state.errexit = true;
        if (/^\+[A-Za-z]*e/.test(arg)) state.errexit = false;
      }
      args.forEach((arg, i) => {
        if (arg === '-o' && args[i + 1] === 'errexit') state.errexit = true;
      });
      return ok();
    case 'export':
      for (const arg of args) {
        const eq = arg.indexOf('=');
        if (eq > 0) state.env[arg.slice(0, eq)] = arg.slice(eq + 1);
      }
      return ok();
    default:
      if (SILENT.has(name)) return ok();
      if (KNOWN_PROGRAMS.has(name) || program.includes('/')) return ok(`${words.join(' ')}\n`);
      return fail(127, `${program}: command not found\n`);
  }
}

function runExit(args: string[], state: ShellState): WordsRun {
  if (args.length === 0) return { ...ok(), exitCode: state.status, exits: true };
  if (!/^[-+]?\d+$/.test(args[0])) {
    return { ...fail(2, `exit: ${args[0]}: numeric argument required\n`), exits: true };
  }
  // Exit statuses are 8 bits: `exit 256` is 0 and `exit -1` is 255.
  return { ...ok(), exitCode: Number(BigInt(args[0]) & 255n), exits: true };
}

function echo(args: string[]): string {
  let newline = true;
  let escapes = false;
  let i = 0;
  for (; i < args.length && /^-[neE]+$/.test(args[i]); i++) {
    if (args[i].includes('n')) newline = false;
    for (const flag of args[i].slice(1)) {
      if (flag === 'e') escapes = true;
      if (flag === 'E') escapes = false;
    }
  }
  let text = args.slice(i).join(' ');
  if (escapes) {
    text = text.replace(/\\([nt\\])/g, (_m, c: string) =>
      c === 'n' ? '\n' : c === 't' ? '\t' : '\\',
    );
  }
  return newline ? `${text}\n` : text;
}

const SLEEP_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 };

function sleep(args: string[]): WordsRun {
  if (args.length === 0) return fail(1, 'sleep: missing operand\n');
  let seconds = 0;
  for (const arg of args) {
    const match = /^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$/.exec(arg);
    if (!match) return fail(1, `sleep: invalid time interval '${arg}'\n`);
    seconds += Number(match[1]) * SLEEP_UNITS[match[2]];
  }
  return { ...ok(), sleep: seconds };
}

/** `sh [options] -c SCRIPT`; a shell without -c runs a script file or stdin: a known program. */
function runShell(program: string, args: string[], outer: ShellState): WordsRun {
  let errexit = false;
  let script: string | undefined;
  let i = 0;
  for (; i < args.length && /^[-+]/.test(args[i]); i++) {
    const arg = args[i];
    if (arg === '-o' || arg === '+o') {
      if (args[i + 1] === 'errexit') errexit = arg === '-o';
      i++;
    } else if (arg.startsWith('-') && !arg.startsWith('--')) {
      if (arg.includes('e')) errexit = true;
      if (arg.includes('c')) script = '';
    }
  }
  if (script === undefined) return ok(`${[program, ...args].join(' ')}\n`);
  if (i >= args.length) return fail(2, `${program}: -c: option requires an argument\n`);
  const state: ShellState = { env: { ...outer.env }, status: 0, errexit };
  const parsed = parseScript(args[i]);
  if (parsed === UNFOLLOWED) return ok(`${[program, ...args].join(' ')}\n`);
  if (typeof parsed === 'string') return fail(2, `${program}: ${parsed}\n`);
  return runScript(parsed, state);
}

// ---- A small subset of the shell language: words, quotes, $VAR, ; && || | & and redirections ----

/** A word: literal text and variable references, expanded when the command runs. */
type Part = { text: string } | { variable: string };
type Word = Part[];

interface Redirect {
  fd: number;
  op: '>' | '>>' | '<' | '>&' | '&>';
  target: Word;
}

interface Command {
  words: Word[];
  redirects: Redirect[];
}

interface Pipeline {
  /** How it follows the previous one: `;` (also newline and `&`), `&&` or `||`. */
  after: ';' | '&&' | '||';
  commands: Command[];
}

/** A script, or part of one, in syntax this simulator does not follow. */
const UNFOLLOWED = Symbol('unfollowed');

type Token = { word: Word; digits?: number } | { op: string };

/**
 * Splits a script into tokens. Returns UNFOLLOWED for syntax outside the subset (command
 * substitution, subshells, here-documents, `case`), or an error message for a broken quote.
 */
function tokenize(script: string): Token[] | typeof UNFOLLOWED | string {
  const tokens: Token[] = [];
  let word: Word | undefined;
  let quoted = false;
  const text = (t: string) => {
    word ??= [];
    const last = word.at(-1);
    if (last && 'text' in last) last.text += t;
    else word.push({ text: t });
  };
  const end = () => {
    if (word) {
      const only = word.length === 1 && 'text' in word[0] ? word[0].text : undefined;
      tokens.push({
        word,
        digits: !quoted && only && /^\d$/.test(only) ? Number(only) : undefined,
      });
    }
    word = undefined;
    quoted = false;
  };
  /** Reads `$NAME`, `${NAME}` or `$?` at `i` (the dollar sign); returns the index after it. */
  const dollar = (i: number): number | typeof UNFOLLOWED => {
    const next = script[i + 1];
    if (next === '(') return UNFOLLOWED;
    if (next === '{') {
      const close = script.indexOf('}', i + 2);
      const name = close < 0 ? '' : script.slice(i + 2, close);
      if (!/^([A-Za-z_][A-Za-z0-9_]*|[?#@*$!0-9])$/.test(name)) return UNFOLLOWED;
      (word ??= []).push({ variable: name });
      return close + 1;
    }
    const name = /^([A-Za-z_][A-Za-z0-9_]*|[?#@*$!0-9])/.exec(script.slice(i + 1))?.[0];
    if (!name) {
      text('$');
      return i + 1;
    }
    (word ??= []).push({ variable: name });
    return i + 1 + name.length;
  };

  let i = 0;
  while (i < script.length) {
    const c = script[i];
    if (c === ' ' || c === '\t') {
      end();
      i++;
    } else if (c === '\n') {
      end();
      tokens.push({ op: ';' });
      i++;
    } else if (c === '#' && word === undefined) {
      while (i < script.length && script[i] !== '\n') i++;
    } else if (c === '\\') {
      if (script[i + 1] !== '\n') text(script[i + 1] ?? '');
      i += 2;
    } else if (c === "'") {
      const close = script.indexOf("'", i + 1);
      if (close < 0) return 'unterminated quoted string';
      text(script.slice(i + 1, close));
      quoted = true;
      i = close + 1;
    } else if (c === '"') {
      word ??= [];
      quoted = true;
      i++;
      for (;;) {
        if (i >= script.length) return 'unterminated quoted string';
        const d = script[i];
        if (d === '"') break;
        if (d === '`') return UNFOLLOWED;
        if (d === '\\' && '$`"\\\n'.includes(script[i + 1] ?? '')) {
          if (script[i + 1] !== '\n') text(script[i + 1]);
          i += 2;
        } else if (d === '$') {
          const after = dollar(i);
          if (after === UNFOLLOWED) return after;
          i = after;
        } else {
          text(d);
          i++;
        }
      }
      i++;
    } else if (c === '$') {
      const after = dollar(i);
      if (after === UNFOLLOWED) return after;
      i = after;
    } else if (c === '`' || c === '(' || c === ')') {
      return UNFOLLOWED;
    } else if (c === ';' || c === '&' || c === '|' || c === '>' || c === '<') {
      const two = script.slice(i, i + 2);
      const three = script.slice(i, i + 3);
      if (two === ';;' || two === '<<') return UNFOLLOWED;
      const op = ['&>>'].includes(three)
        ? three
        : ['&&', '||', '>>', '>&', '&>', '|&', '<&'].includes(two)
          ? two
          : c;
      // `2>file`: a single digit right before a redirection names the file descriptor.
      const fdWord = (op.startsWith('>') || op.startsWith('<')) && word !== undefined;
      if (!fdWord) end();
      else {
        const before = tokens.length;
        end();
        const last = tokens[before] as { word: Word; digits?: number } | undefined;
        if (last?.digits !== undefined) {
          tokens.pop();
          tokens.push({ op: `${last.digits}${op}` });
          i += op.length;
          continue;
        }
      }
      tokens.push({ op });
      i += op.length;
    } else {
      text(c);
      i++;
    }
  }
  end();
  return tokens;
}

function parseScript(script: string): Pipeline[] | typeof UNFOLLOWED | string {
  const tokens = tokenize(script);
  if (typeof tokens === 'string' || tokens === UNFOLLOWED) return tokens;
  const pipelines: Pipeline[] = [];
  let pipeline: Pipeline = { after: ';', commands: [] };
  let command: Command = { words: [], redirects: [] };
  const endCommand = (): boolean => {
    const empty = command.words.length === 0 && command.redirects.length === 0;
    if (!empty) pipeline.commands.push(command);
    command = { words: [], redirects: [] };
    return !empty;
  };
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t];
    if ('word' in token) {
      const first = command.words.length === 0 ? literal(token.word) : undefined;
      if (first !== undefined && KEYWORDS.has(first)) return UNFOLLOWED;
      command.words.push(token.word);
      continue;
    }
    const redirect = /^(\d?)(>>|>&|&>>|&>|>|<&|<)$/.exec(token.op);
    if (redirect) {
      const target = tokens[t + 1];
      if (!target || !('word' in target)) return `syntax error near "${token.op}"`;
      const op = redirect[2];
      const fd = redirect[1] ? Number(redirect[1]) : op.startsWith('<') ? 0 : 1;
      command.redirects.push({
        fd,
        op: op === '&>>' ? '&>' : op === '<&' ? '<' : (op as Redirect['op']),
        target: target.word,
      });
      t++;
      continue;
    }
    if (token.op === '|' || token.op === '|&') {
      if (!endCommand()) return `syntax error near "${token.op}"`;
      continue;
    }
    // ; & && || (a background job `&` is waited for, as if it were `;`)
    const ended = endCommand();
    const and = token.op === '&&' || token.op === '||';
    if (pipeline.commands.length === 0) {
      // An empty line, or a line break after `&&`: nothing ends here.
      if (and) return `syntax error near "${token.op}"`;
      continue;
    }
    if (!ended) return `syntax error near "${token.op}"`;
    pipelines.push(pipeline);
    pipeline = { after: and ? (token.op as '&&' | '||') : ';', commands: [] };
  }
  endCommand();
  if (pipeline.commands.length > 0) pipelines.push(pipeline);
  else if (pipeline.after !== ';') return `syntax error: the script ends after "${pipeline.after}"`;
  return pipelines;
}

/** A word's text when it has no variables in it. */
function literal(word: Word): string | undefined {
  return word.every((p) => 'text' in p)
    ? word.map((p) => ('text' in p ? p.text : '')).join('')
    : undefined;
}

function expand(word: Word, state: ShellState): string {
  return word
    .map((part) => {
      if ('text' in part) return part.text;
      if (part.variable === '?') return String(state.status);
      return state.env[part.variable] ?? '';
    })
    .join('');
}

function runScript(pipelines: Pipeline[], state: ShellState): WordsRun {
  const total: WordsRun = { exitCode: 0, stdout: '', stderr: '', sleep: 0 };
  for (let p = 0; p < pipelines.length; p++) {
    const pipeline = pipelines[p];
    if (pipeline.after === '&&' && state.status !== 0) continue;
    if (pipeline.after === '||' && state.status === 0) continue;
    let status = 0;
    for (let c = 0; c < pipeline.commands.length; c++) {
      const run = runCommand(pipeline.commands[c], state);
      // Within a pipeline, every command's stdout but the last one's feeds the next command.
      if (c < pipeline.commands.length - 1) run.stdout = '';
      total.stdout += run.stdout;
      total.stderr += run.stderr;
      total.sleep += run.sleep;
      status = run.exitCode;
      if (run.exits) return { ...total, exitCode: status };
    }
    state.status = status;
    const guarded = pipelines[p + 1]?.after === '&&' || pipelines[p + 1]?.after === '||';
    if (state.errexit && status !== 0 && !guarded) break;
  }
  return { ...total, exitCode: state.status };
}

/** One simple command: assignments, words, redirections (a redirected stream is not logged). */
function runCommand(command: Command, state: ShellState): WordsRun {
  const words = command.words.map((w) => expand(w, state));
  // `NAME=value` words before the program (the name written out, not from a variable).
  const assigns = (w: Word): boolean => {
    const first = w[0];
    return first !== undefined && 'text' in first && ASSIGNMENT.test(first.text);
  };
  let a = 0;
  while (a < words.length && assigns(command.words[a])) a++;
  if (a === words.length) {
    for (const assignment of words) {
      const eq = assignment.indexOf('=');
      state.env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
    }
  }
  const run = runWords(words.slice(a), state);
  let { stdout, stderr } = run;
  for (const r of command.redirects) {
    const target = expand(r.target, state);
    if (r.op === '&>') {
      stdout = '';
      stderr = '';
    } else if (r.op === '>&' && target === '1' && r.fd === 2) {
      stdout += stderr;
      stderr = '';
    } else if (r.op === '>&' && target === '2' && r.fd === 1) {
      stderr += stdout;
      stdout = '';
    } else if (r.op !== '<' && r.fd === 1) {
      stdout = '';
    } else if (r.op !== '<' && r.fd === 2) {
      stderr = '';
    }
  }
  return { ...run, stdout, stderr };
}
