import { Renderer } from './go-template';

/**
 * The renderer the chart test relies on: each case is what Helm (Go's text/template with Sprig)
 * renders for the same template, so that the chart's test cannot pass on a reading Helm would not
 * share.
 */
const render = (template: string, data: unknown = {}, helpers: string[] = []) =>
  new Renderer(helpers).render(template, data);

describe('the Go template renderer', () => {
  it('trims whitespace only on the side of a dash', () => {
    expect(render('a  {{- "b" -}}  c')).toBe('abc');
    expect(render('a  {{ "b" }}  c')).toBe('a  b  c');
    expect(render('x:\n  {{- /* note */}}\n  y')).toBe('x:\n  y');
  });

  it('reads fields, the root and variables, and fails on a field of nothing', () => {
    const data = { Values: { a: { b: 'B' } } };
    expect(
      render('{{ .Values.a.b }}|{{ $.Values.a.b }}|{{ $x := .Values.a }}{{ $x.b }}', data),
    ).toBe('B|B|B');
    expect(render('[{{ .Values.a.missing }}]', data)).toBe('[]');
    expect(() => render('{{ .Values.nope.b }}', data)).toThrow(/nil pointer/);
    expect(() => render('{{ $nope }}', data)).toThrow(/undefined variable/);
  });

  it('follows Go truth in if, else if, with and range', () => {
    const data = { zero: 0, empty: [], map: {}, text: 'x', list: ['a', 'b'], m: { k2: 2, k1: 1 } };
    expect(render('{{ if .zero }}1{{ else if .empty }}2{{ else if .text }}3{{ end }}', data)).toBe(
      '3',
    );
    expect(render('{{ with .map }}full{{ else }}empty{{ end }}', data)).toBe('empty');
    expect(render('{{ with .text }}<{{ . }}>{{ end }}', data)).toBe('<x>');
    expect(render('{{ range .list }}{{ . }}{{ end }}', data)).toBe('ab');
    // Maps are ranged in key order.
    expect(render('{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}', data)).toBe('k1=1;k2=2;');
    expect(() => render('{{ with .text }}a{{ else if .zero }}b{{ end }}', data)).toThrow();
  });

  it('stops and/or at the argument that decides, as Go does', () => {
    expect(render('{{ and .a .a.b }}', { a: undefined })).toBe('');
    expect(render('{{ or .x "fallback" }}', { x: '' })).toBe('fallback');
  });

  it("pipes into the last argument, with Helm's functions", () => {
    const helpers = ['{{- define "greet" -}}hello {{ .name }}{{- end -}}'];
    expect(render('{{ include "greet" . | quote }}', { name: 'x' }, helpers)).toBe('"hello x"');
    expect(render('a:{{ toYaml .m | nindent 2 }}', { m: { b: [1], c: 'd' } })).toBe(
      'a:\n  b:\n    - 1\n  c: d',
    );
    expect(render('{{ .x | default "d" }}{{ printf "%s-%d" "a" 1 }}', { x: '' })).toBe('da-1');
    expect(render('{{ urlquery "a b+c" | replace "+" "%20" }}')).toBe('a%20b%2Bc');
    expect(render('{{ "abcdef-" | trunc 4 }}{{ "ab-" | trimSuffix "-" }}')).toBe('abcdab');
    expect(() => render('{{ upperFirst "a" }}')).toThrow(/function "upperFirst" not defined/);
    expect(() => render('{{ required "need x" .x }}', {})).toThrow('need x');
  });
});
