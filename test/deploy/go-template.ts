import { createHash, randomInt } from 'node:crypto';
import { dump as toYamlText } from 'js-yaml';

/**
 * A small renderer of Helm's Go templates, enough for the chart in helm/ and no more: Helm itself
 * does not run where this project is developed, and no npm package renders Go templates with
 * Helm's functions. It knows text and actions with `{{-`/`-}}` trimming and comments; `if`/
 * `else if`/`else`, `with`/`else`, `range` (over lists and maps, with `$k, $v :=`), `define` and
 * `$variables`; pipelines of fields (`.Values.a.b`, `$.Values`, `$var.a`), string, number and
 * boolean literals and parenthesised pipelines; and the functions in FUNCTIONS. Anything else is
 * an error, so a template using more than this fails its test rather than rendering wrongly.
 * Like Helm, it fails on a field of a missing value (`.Values.nope.x`).
 */

type Value = unknown;
type Scope = { dot: Value; root: Value; vars: Map<string, Value> };

// ---- parsing

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline; declare?: string }
  | { kind: 'if'; branches: { cond: Pipeline; body: Node[] }[]; otherwise: Node[] }
  | { kind: 'with'; pipe: Pipeline; body: Node[]; otherwise: Node[] }
  | { kind: 'range'; pipe: Pipeline; keyVar?: string; valueVar?: string; body: Node[] };

type Operand =
  /** `base`: `.` (dot), `$` (root) or a variable's name (`$x`). */
  | { kind: 'field'; base: string; path: string[] }
  | { kind: 'literal'; value: Value }
  | { kind: 'call'; name: string }
  | { kind: 'sub'; pipe: Pipeline };
type Command = Operand[];
type Pipeline = Command[];

const TOKEN =
  /\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|(\(|\)|\||:=|,)|(-?\d+(?:\.\d+)?)(?![\w.])|(\$\w*(?:\.\w+)*)|(\.(?:\w+(?:\.\w+)*)?)|(\w+))/y;

function tokenize(source: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < source.length) {
    if (/^\s*$/.test(source.slice(TOKEN.lastIndex))) break;
    const start = TOKEN.lastIndex;
    const match = TOKEN.exec(source);
    if (!match) throw new Error(`cannot read "${source.slice(start)}" in {{ ${source} }}`);
    tokens.push(match.slice(1).find((t) => t !== undefined) ?? '');
  }
  return tokens;
}

function parsePipeline(tokens: string[], at = { i: 0 }): Pipeline {
  const pipeline: Pipeline = [[]];
  while (at.i < tokens.length) {
    const token = tokens[at.i++];
    const command = pipeline[pipeline.length - 1];
    if (token === ')') return pipeline;
    if (token === '|') pipeline.push([]);
    else if (token === '(') command.push({ kind: 'sub', pipe: parsePipeline(tokens, at) });
    else command.push(operand(token));
  }
  return pipeline;
}

function operand(token: string): Operand {
  if (token.startsWith('"')) return { kind: 'literal', value: JSON.parse(token) as string };
  if (token.startsWith('`')) return { kind: 'literal', value: token.slice(1, -1) };
  if (/^-?\d/.test(token)) return { kind: 'literal', value: Number(token) };
  if (token === 'true' || token === 'false') return { kind: 'literal', value: token === 'true' };
  if (token === 'nil') return { kind: 'literal', value: undefined };
  if (token.startsWith('.')) return { kind: 'field', base: '.', path: fields(token.slice(1)) };
  if (token.startsWith('$')) {
    const [name, ...path] = token.split('.');
    return { kind: 'field', base: name, path };
  }
  return { kind: 'call', name: token };
}

const fields = (chain: string) => (chain ? chain.split('.') : []);

/** `$x := pipeline` → the variable and the rest; otherwise no variable. */
function declaration(tokens: string[]): { names: string[]; rest: string[] } {
  const at = tokens.indexOf(':=');
  if (at < 0) return { names: [], rest: tokens };
  return { names: tokens.slice(0, at).filter((t) => t !== ','), rest: tokens.slice(at + 1) };
}

interface Parsed {
  nodes: Node[];
  defines: Map<string, Node[]>;
}

export function parseTemplate(source: string, defines = new Map<string, Node[]>()): Parsed {
  // Split into text and actions, applying the trim markers.
  const parts: ({ text: string } | { action: string })[] = [];
  const ACTION = /\{\{(-\s)?\s*([\s\S]*?)\s*(\s-)?\}\}/g;
  let last = 0;
  for (const match of source.matchAll(ACTION)) {
    let text = source.slice(last, match.index);
    if (match[1]) text = text.replace(/\s+$/, '');
    parts.push({ text });
    parts.push({ action: match[2] });
    last = match.index + match[0].length;
    if (match[3]) last += /^\s*/.exec(source.slice(last))?.[0].length ?? 0;
  }
  parts.push({ text: source.slice(last) });

  let i = 0;
  /** Parses nodes until one of `stops` (an `end`, `else`…), which it returns unconsumed. */
  function block(stops: string[]): { nodes: Node[]; stop?: string[] } {
    const nodes: Node[] = [];
    while (i < parts.length) {
      const part = parts[i++];
      if ('text' in part) {
        if (part.text) nodes.push({ kind: 'text', text: part.text });
        continue;
      }
      if (part.action.startsWith('/*')) continue;
      const tokens = tokenize(part.action);
      const [keyword] = tokens;
      if (stops.includes(keyword)) return { nodes, stop: tokens };
      if (keyword === 'if') nodes.push(ifNode(tokens.slice(1)));
      else if (keyword === 'with') {
        const body = block(['else', 'end']);
        if (body.stop && body.stop.length > 1)
          throw new Error('{{ with }} takes a plain {{ else }}');
        const otherwise = body.stop?.[0] === 'else' ? block(['end']).nodes : [];
        nodes.push({
          kind: 'with',
          pipe: parsePipeline(tokens.slice(1)),
          body: body.nodes,
          otherwise,
        });
      } else if (keyword === 'range') {
        const { names, rest } = declaration(tokens.slice(1));
        const body = block(['end']);
        const [keyVar, valueVar] = names.length === 2 ? names : [undefined, names[0]];
        nodes.push({
          kind: 'range',
          pipe: parsePipeline(rest),
          keyVar,
          valueVar,
          body: body.nodes,
        });
      } else if (keyword === 'define') {
        defines.set(JSON.parse(tokens[1]) as string, block(['end']).nodes);
      } else if (['else', 'end', 'template', 'block', 'break', 'continue'].includes(keyword)) {
        throw new Error(`unexpected {{ ${part.action} }}`);
      } else {
        const { names, rest } = declaration(tokens);
        nodes.push({ kind: 'action', pipe: parsePipeline(rest), declare: names[0] });
      }
    }
    if (stops.length) throw new Error(`missing {{ end }} (expected one of ${stops.join(', ')})`);
    return { nodes };
  }

  function ifNode(condition: string[]): Node {
    const branches: { cond: Pipeline; body: Node[] }[] = [];
    let cond = condition;
    for (;;) {
      const body = block(['else', 'end']);
      branches.push({ cond: parsePipeline(cond), body: body.nodes });
      const stop = body.stop ?? [];
      if (stop[0] === 'end') return { kind: 'if', branches, otherwise: [] };
      if (stop[1] === 'if') cond = stop.slice(2);
      else return { kind: 'if', branches, otherwise: block(['end']).nodes };
    }
  }

  return { nodes: block([]).nodes, defines };
}

// ---- evaluation

/** Go template truth: false, 0, nil, empty strings, lists and maps are false. */
export function truthy(value: Value): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '')
    return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

const isMap = (v: Value): v is Record<string, Value> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function field(value: Value, path: string[], name: string): Value {
  let current = value;
  for (const key of path) {
    if (!isMap(current)) throw new Error(`nil pointer evaluating ${name}: no field ${key}`);
    current = current[key];
  }
  return current;
}

/** How a value prints: nothing for nil, strings as they are, anything else as JSON. */
const str = (v: Value): string =>
  v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);

function printf(format: string, ...args: Value[]): string {
  let n = 0;
  return format.replace(/%[sdvq%]/g, (verb) =>
    verb === '%%' ? '%' : verb === '%q' ? JSON.stringify(str(args[n++])) : str(args[n++]),
  );
}

const indent = (n: number, text: string) =>
  text
    .split('\n')
    .map((line) => ' '.repeat(n) + line)
    .join('\n');

const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export class Renderer {
  readonly defines = new Map<string, Node[]>();

  constructor(sources: string[] = []) {
    for (const source of sources) parseTemplate(source, this.defines);
  }

  private readonly functions: Record<string, (...args: Value[]) => Value> = {
    include: (name, data) => {
      const body = this.defines.get(str(name));
      if (!body) throw new Error(`include: no template "${str(name)}"`);
      return this.renderNodes(body, { dot: data, root: data, vars: new Map() });
    },
    toYaml: (v) =>
      v === undefined || v === null ? 'null' : toYamlText(v, { lineWidth: -1 }).replace(/\n$/, ''),
    toJson: (v) => JSON.stringify(v ?? null),
    nindent: (n, s) => `\n${indent(Number(n), str(s))}`,
    indent: (n, s) => indent(Number(n), str(s)),
    quote: (...vs) => vs.map((v) => JSON.stringify(str(v))).join(' '),
    default: (fallback, v) => (truthy(v) ? v : fallback),
    empty: (v) => !truthy(v),
    required: (message, v) => {
      if (v === undefined || v === null || v === '') throw new Error(str(message));
      return v;
    },
    fail: (message) => {
      throw new Error(str(message));
    },
    eq: (a, ...bs) => bs.some((b) => a === b),
    ne: (a, b) => a !== b,
    not: (v) => !truthy(v),
    printf: (format, ...args) => printf(str(format), ...args),
    print: (...args) => args.map(str).join(''),
    sha256sum: (s) => createHash('sha256').update(str(s)).digest('hex'),
    b64enc: (s) => Buffer.from(str(s)).toString('base64'),
    b64dec: (s) => Buffer.from(str(s), 'base64').toString('utf8'),
    // Go's url.QueryEscape: a space becomes `+`; only letters, digits and `-_.~` stay as they are.
    urlquery: (s) =>
      encodeURIComponent(str(s))
        .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
        .replace(/%20/g, '+'),
    replace: (from, to, s) => str(s).split(str(from)).join(str(to)),
    trunc: (n, s) => str(s).slice(0, Number(n)),
    trimSuffix: (suffix, s) =>
      str(s).endsWith(str(suffix)) ? str(s).slice(0, -str(suffix).length || undefined) : str(s),
    contains: (part, s) => str(s).includes(str(part)),
    hasKey: (map, key) => isMap(map) && str(key) in map,
    list: (...items) => items,
    index: (map, ...keys) => field(map, keys.map(str), 'index'),
    dict: (...pairs) =>
      Object.fromEntries(
        Array.from({ length: pairs.length / 2 }, (_, i) => [str(pairs[2 * i]), pairs[2 * i + 1]]),
      ),
    // As under `helm template`: no cluster to look up, so nothing is found.
    lookup: () => ({}),
    dig: (...args) => {
      const map = args.pop();
      const fallback = args.pop();
      let found = map;
      for (const key of args.map(str)) found = isMap(found) ? found[key] : undefined;
      return found === undefined ? fallback : found;
    },
    randAlphaNum: (n) =>
      Array.from({ length: Number(n) }, () => ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]).join(
        '',
      ),
  };

  render(source: string, data: Value): string {
    const { nodes } = parseTemplate(source, this.defines);
    return this.renderNodes(nodes, { dot: data, root: data, vars: new Map() });
  }

  private renderNodes(nodes: Node[], scope: Scope): string {
    let out = '';
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          out += node.text;
          break;
        case 'action': {
          const value = this.pipeline(node.pipe, scope);
          if (node.declare) scope.vars.set(node.declare, value);
          else out += str(value);
          break;
        }
        case 'if': {
          const branch = node.branches.find((b) => truthy(this.pipeline(b.cond, scope)));
          out += this.renderNodes(branch?.body ?? node.otherwise, scope);
          break;
        }
        case 'with': {
          const value = this.pipeline(node.pipe, scope);
          out += truthy(value)
            ? this.renderNodes(node.body, { ...scope, dot: value })
            : this.renderNodes(node.otherwise, scope);
          break;
        }
        case 'range': {
          const value = this.pipeline(node.pipe, scope);
          const entries: [Value, Value][] = Array.isArray(value)
            ? value.map((v, k) => [k, v])
            : isMap(value)
              ? Object.keys(value)
                  .sort()
                  .map((k) => [k, value[k]])
              : [];
          for (const [key, item] of entries) {
            const vars = new Map(scope.vars);
            if (node.keyVar) vars.set(node.keyVar, key);
            if (node.valueVar) vars.set(node.valueVar, item);
            out += this.renderNodes(node.body, { ...scope, dot: item, vars });
          }
          break;
        }
      }
    }
    return out;
  }

  private pipeline(pipe: Pipeline, scope: Scope): Value {
    let value: Value;
    pipe.forEach((command, i) => {
      value = this.command(command, scope, i > 0 ? [value] : []);
    });
    return value;
  }

  private command(command: Command, scope: Scope, piped: Value[]): Value {
    const [head, ...rest] = command;
    if (head?.kind !== 'call') {
      if (command.length !== 1 || piped.length) throw new Error('cannot call a value');
      return this.operand(head, scope);
    }
    const args = () => [...rest.map((o) => this.operand(o, scope)), ...piped];
    // `and` and `or` stop at the first argument that decides, as in Go.
    if (head.name === 'and' || head.name === 'or') {
      const lazy = [...rest.map((o) => () => this.operand(o, scope)), ...piped.map((v) => () => v)];
      let value: Value;
      for (const next of lazy) {
        value = next();
        if (truthy(value) === (head.name === 'or')) return value;
      }
      return value;
    }
    const fn = this.functions[head.name];
    if (!fn) throw new Error(`function "${head.name}" not defined`);
    return fn(...args());
  }

  private operand(operand: Operand, scope: Scope): Value {
    switch (operand.kind) {
      case 'literal':
        return operand.value;
      case 'sub':
        return this.pipeline(operand.pipe, scope);
      case 'call':
        return this.command([operand], scope, []);
      case 'field': {
        const { base: name } = operand;
        if (name !== '.' && name !== '$' && !scope.vars.has(name))
          throw new Error(`undefined variable ${name}`);
        const base = name === '.' ? scope.dot : name === '$' ? scope.root : scope.vars.get(name);
        return field(base, operand.path, `${operand.base}.${operand.path.join('.')}`);
      }
    }
  }
}
