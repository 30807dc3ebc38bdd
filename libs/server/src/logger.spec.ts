import type { LogLevel } from '@nestjs/common';
import { ProtesLogger, REDACTED } from './logger';
import { withRequestId } from './request-context';

/** A logger at `level` whose lines are kept, parsed, with the stream each went to. */
function capture(level: LogLevel = 'log', json = true) {
  const lines: { text: string; level: LogLevel }[] = [];
  const logger = new ProtesLogger('proTES', {
    json,
    level,
    write: (text, lineLevel) => lines.push({ text, level: lineLevel }),
  });
  const parsed = () => lines.map((l) => JSON.parse(l.text) as Record<string, unknown>);
  return { logger, lines, parsed };
}

describe('ProtesLogger', () => {
  it('writes one JSON object per line with an ISO 8601 time, level, process and context', () => {
    const { logger, lines, parsed } = capture();
    logger.log('started', 'NestApplication');
    expect(lines[0].text.endsWith('\n')).toBe(true);
    expect(lines[0].text.trimEnd()).not.toContain('\n');
    const [line] = parsed();
    expect(line).toMatchObject({
      level: 'info',
      process: 'proTES',
      pid: process.pid,
      context: 'NestApplication',
      msg: 'started',
    });
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
  });

  it('merges the fields of an object message into the line', () => {
    const { logger, parsed } = capture();
    logger.log({ msg: 'task forwarded', taskId: 't1', node: 'alpha' }, 'TaskEvents');
    expect(parsed()[0]).toMatchObject({ msg: 'task forwarded', taskId: 't1', node: 'alpha' });
  });

  it('keeps the stack of an error and leaves out levels below its own', () => {
    const { logger, lines, parsed } = capture('warn');
    logger.log('not shown');
    logger.error('failed', 'Error: failed\n    at here', 'Tracker');
    expect(parsed()).toEqual([
      expect.objectContaining({
        level: 'error',
        msg: 'failed',
        stack: expect.stringContaining('at here'),
      }),
    ]);
    expect(lines[0].level).toBe('error');
  });

  it('carries the id of the request being served', () => {
    const { logger, parsed } = capture();
    withRequestId('req-1', () => logger.log('inside'));
    logger.log('outside');
    expect(parsed().map((l) => l.requestId)).toEqual(['req-1', undefined]);
  });

  it('never writes credentials, in fields or in text', () => {
    const { logger, lines } = capture();
    logger.log({
      msg: 'call failed: GET amqp://guest:hunter2@broker/ with Authorization: Bearer abc.def.ghi',
      headers: { authorization: 'Basic dXNlcjpodW50ZXIy', cookie: 'session=s3cr3t' },
      node: { name: 'alpha', credentials: { token: 'n0de-t0ken' } },
      query: 'access_token=qwerty&page=1',
    });
    const text = lines[0].text;
    for (const secret of [
      'hunter2',
      'abc.def.ghi',
      'dXNlcjpodW50ZXIy',
      's3cr3t',
      'n0de-t0ken',
      'qwerty',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain(REDACTED);
    expect(text).toContain('alpha');
    expect(text).toContain('page=1');
  });

  it('writes a readable line when JSON is off', () => {
    const { logger, lines } = capture('log', false);
    logger.log({ msg: 'GET /tasks 200', status: 200 }, 'HTTP');
    expect(lines[0].text).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO \[HTTP\] GET \/tasks 200 status=200\n$/,
    );
  });
});
