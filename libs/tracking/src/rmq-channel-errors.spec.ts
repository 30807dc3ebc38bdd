import { connect } from 'amqp-connection-manager';
import { reportChannelErrors } from './rmq-channel-errors';

describe('reportChannelErrors', () => {
  // A real connection manager, pointed at a port nothing listens on: it never connects, which
  // this test does not need. The 'error' event is emitted by hand: it is what the channel wrapper
  // emits when a channel cannot be opened because the connection closed meanwhile, a race too
  // rare to provoke on demand.
  const manager = reportChannelErrors(connect(['amqp://127.0.0.1:1']), (error) =>
    reported.push(error.message),
  );
  const reported: string[] = [];

  afterAll(() => manager.close());

  it("hands a channel's error to the report instead of throwing it out of the process", () => {
    const channel = manager.createChannel();
    expect(() =>
      channel.emit('error', new Error('Channel ended, no reply will be forthcoming')),
    ).not.toThrow();
    expect(reported).toEqual(['Channel ended, no reply will be forthcoming']);
  });

  it('without it, the same event is thrown (what ended the tracker)', () => {
    const bare = connect(['amqp://127.0.0.1:1']);
    const channel = bare.createChannel();
    expect(() => channel.emit('error', new Error('Channel ended'))).toThrow('Channel ended');
    return bare.close();
  });
});
