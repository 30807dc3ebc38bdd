import { HttpStatus } from '@nestjs/common';
import type { FieldError } from '@protes/tes';
import { InvalidRequestException } from '../common/tes-exception.filter';
import type { RawQuery } from '@protes/tes';
import { DEFAULT_PAGE_SIZE, listQueryPipe, MAX_PAGE_SIZE, viewPipe } from './request-pipes';

const parseListQuery = (query: RawQuery) => listQueryPipe.transform(query);
const parseView = (query: RawQuery) => viewPipe.transform(query);

/** The field errors of the 400 a query gives (failing the test if it gives none). */
function refused(query: RawQuery, parse: (q: RawQuery) => unknown = parseListQuery): FieldError[] {
  try {
    parse(query);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestException);
    expect((error as InvalidRequestException).getStatus()).toBe(HttpStatus.BAD_REQUEST);
    return (error as InvalidRequestException).errors;
  }
  throw new Error(`expected ${JSON.stringify(query)} to be refused`);
}

describe('parseListQuery', () => {
  it('defaults to the MINIMAL view, 256 per page, no filters', () => {
    expect(DEFAULT_PAGE_SIZE).toBe(256);
    expect(parseListQuery({})).toEqual({
      view: 'MINIMAL',
      state: undefined,
      namePrefix: undefined,
      tags: [],
      pageSize: 256,
      pageToken: undefined,
    });
  });

  it('reads every parameter', () => {
    expect(
      parseListQuery({
        view: 'FULL',
        state: 'RUNNING',
        name_prefix: 'md5-',
        tag_key: 'project',
        tag_value: 'demo',
        page_size: '10',
        page_token: 'abc',
      }),
    ).toEqual({
      view: 'FULL',
      state: 'RUNNING',
      namePrefix: 'md5-',
      tags: [{ key: 'project', value: 'demo' }],
      pageSize: 10,
      pageToken: 'abc',
    });
  });

  it.each(['1', '2048', '256'])('accepts page_size %s', (size) => {
    expect(parseListQuery({ page_size: size }).pageSize).toBe(Number(size));
  });

  it.each(['0', '2049', 'abc', '-1', '1.5', '', ' 10', '1e3', '99999999999999999999'])(
    'refuses page_size %p, naming it',
    (size) => {
      expect(MAX_PAGE_SIZE).toBe(2048);
      const errors = refused({ page_size: size });
      expect(errors.map((e) => e.field)).toEqual(['page_size']);
      expect(errors[0].reason).toContain('2048');
    },
  );

  it.each([
    ['state', { state: 'DONE' }],
    ['state', { state: 'complete' }],
    ['view', { view: 'SUMMARY' }],
    ['view', { view: 'full' }],
  ])('refuses a bad %s (%j), naming the parameter and the allowed values', (name, query) => {
    const errors = refused(query);
    expect(errors.map((e) => e.field)).toEqual([name]);
    expect(errors[0].reason).toMatch(name === 'view' ? /MINIMAL, BASIC, FULL/ : /COMPLETE/);
  });

  it('names every bad parameter at once', () => {
    const errors = refused({ view: 'X', state: 'Y', page_size: '0' });
    expect(errors.map((e) => e.field).sort()).toEqual(['page_size', 'state', 'view']);
  });

  it('takes every TES state', () => {
    for (const state of ['UNKNOWN', 'QUEUED', 'PREEMPTED', 'CANCELING'] as const) {
      expect(parseListQuery({ state }).state).toBe(state);
    }
  });

  describe('tags', () => {
    it('zips repeated tag_key and tag_value parameters in order', () => {
      expect(
        parseListQuery({ tag_key: ['foo1', 'foo2'], tag_value: ['bar1', 'bar2'] }).tags,
      ).toEqual([
        { key: 'foo1', value: 'bar1' },
        { key: 'foo2', value: 'bar2' },
      ]);
    });

    it('gives a key without a value the empty value, which matches any value', () => {
      expect(parseListQuery({ tag_key: 'foo1' }).tags).toEqual([{ key: 'foo1', value: '' }]);
      expect(parseListQuery({ tag_key: ['a', 'b'], tag_value: 'x' }).tags).toEqual([
        { key: 'a', value: 'x' },
        { key: 'b', value: '' },
      ]);
    });

    it('keeps an explicitly empty value', () => {
      expect(parseListQuery({ tag_key: ['a', 'b'], tag_value: ['', 'y'] }).tags).toEqual([
        { key: 'a', value: '' },
        { key: 'b', value: 'y' },
      ]);
    });

    it('refuses more values than keys, naming tag_value', () => {
      expect(refused({ tag_value: 'x' }).map((e) => e.field)).toEqual(['tag_value']);
      expect(refused({ tag_key: 'a', tag_value: ['x', 'y'] }).map((e) => e.field)).toEqual([
        'tag_value',
      ]);
    });

    it('refuses an empty key, naming tag_key', () => {
      expect(refused({ tag_key: ['a', ''] }).map((e) => e.field)).toEqual(['tag_key']);
    });
  });

  it('reads an empty page_token or name_prefix as absent', () => {
    const query = parseListQuery({ page_token: '', name_prefix: '' });
    expect(query.pageToken).toBeUndefined();
    expect(query.namePrefix).toBeUndefined();
  });

  it('takes the last of a repeated single-valued parameter', () => {
    expect(parseListQuery({ view: ['BASIC', 'FULL'], page_size: ['5', '7'] })).toMatchObject({
      view: 'FULL',
      pageSize: 7,
    });
  });
});

describe('parseView', () => {
  it('defaults to MINIMAL, as the spec says', () => {
    expect(parseView({})).toBe('MINIMAL');
  });

  it.each(['MINIMAL', 'BASIC', 'FULL'])('takes %s', (view) => {
    expect(parseView({ view })).toBe(view);
  });

  it('refuses anything else, naming view', () => {
    expect(refused({ view: 'ALL' }, parseView).map((e) => e.field)).toEqual(['view']);
  });
});
