import { Test, type TestingModule } from '@nestjs/testing';
import { loadConfig, ProtesConfigModule } from '@protes/config';
import { PersistenceModule } from '@protes/persistence';
import { RmqTaskEventBus } from './rmq-task-event-bus';
import { InProcessTaskEventBus, TaskEventBus } from './task-events';
import { TrackerService } from './tracker.service';
import { TrackingModule } from './tracking.module';

/** Never reached: the RabbitMQ client connects on the first publish, which these tests skip. */
const RABBITMQ = { PROTES_BUS__DRIVER: 'rabbitmq', PROTES_BUS__URL: 'amqp://127.0.0.1:1' };

function compile(env: NodeJS.ProcessEnv, runTracker: boolean): Promise<TestingModule> {
  return Test.createTestingModule({
    imports: [
      ProtesConfigModule.forRoot(loadConfig(env)),
      PersistenceModule.forRoot({ driver: 'sqlite', path: ':memory:' }),
      TrackingModule.forRoot({ runTracker }),
    ],
  }).compile();
}

describe('TrackingModule.forRoot', () => {
  let moduleRef: TestingModule | undefined;
  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
    jest.restoreAllMocks();
  });

  it('binds the in-process bus by default, and runs the tracker when asked', async () => {
    moduleRef = await compile({}, true);
    expect(moduleRef.get(TaskEventBus)).toBeInstanceOf(InProcessTaskEventBus);
    expect(moduleRef.get(TrackerService)).toBeInstanceOf(TrackerService);
  });

  it('binds RabbitMQ with bus.driver rabbitmq', async () => {
    moduleRef = await compile(RABBITMQ, true);
    expect(moduleRef.get(TaskEventBus)).toBeInstanceOf(RmqTaskEventBus);
  });

  it('has no tracker without runTracker (distributed gateway)', async () => {
    moduleRef = await compile(RABBITMQ, false);
    expect(moduleRef.get(TaskEventBus)).toBeInstanceOf(RmqTaskEventBus);
    expect(() => moduleRef?.get(TrackerService)).toThrow();
  });

  it('in standalone mode, hands what the gateway publishes to the tracker in the process', async () => {
    const pollSoon = jest.spyOn(TrackerService.prototype, 'pollSoon');
    moduleRef = await compile({}, true);
    await moduleRef.init();
    moduleRef.get(TaskEventBus).publish({ type: 'queued', taskId: 'abc' });
    expect(pollSoon).toHaveBeenCalledWith('abc');
  });
});
