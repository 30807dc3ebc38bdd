import {
  Controller,
  type DynamicModule,
  Get,
  Global,
  Header,
  Injectable,
  Module,
} from '@nestjs/common';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The prefix of the process metrics (heap, CPU, event loop) of every proTES process. */
const PROCESS_PREFIX = 'protes_';

/**
 * The event-loop delay gauges prom-client computes from a histogram it resets at every scrape:
 * with no sample since the last one (the first scrape, or two close together), they read the
 * empty histogram (min 9.2e9 s, mean NaN). They are replaced by the same gauges that keep their
 * last value until there are samples again.
 */
const EVENT_LOOP_GAUGES = {
  min: 'The minimum recorded event loop delay.',
  max: 'The maximum recorded event loop delay.',
  mean: 'The mean of the recorded event loop delays.',
  stddev: 'The standard deviation of the recorded event loop delays.',
  p50: 'The 50th percentile of the recorded event loop delays.',
  p90: 'The 90th percentile of the recorded event loop delays.',
  p99: 'The 99th percentile of the recorded event loop delays.',
} as const;
type EventLoopStat = keyof typeof EVENT_LOOP_GAUGES;

function registerEventLoopDelay(registry: Registry): void {
  const delays = monitorEventLoopDelay({ resolution: 10 });
  delays.enable();
  let last: Record<EventLoopStat, number> = {
    min: 0,
    max: 0,
    mean: 0,
    stddev: 0,
    p50: 0,
    p90: 0,
    p99: 0,
  };
  // The first gauge read in a scrape takes the samples since the last one; the others (and a
  // scrape with no new sample) read the same values.
  const read = (): Record<EventLoopStat, number> => {
    if (delays.count > 0) {
      const { min, max, mean, stddev } = delays;
      const [p50, p90, p99] = [50, 90, 99].map((p) => delays.percentile(p));
      last = { min, max, mean, stddev, p50, p90, p99 };
      delays.reset();
    }
    return last;
  };
  for (const [stat, help] of Object.entries(EVENT_LOOP_GAUGES) as [EventLoopStat, string][]) {
    const name = `${PROCESS_PREFIX}nodejs_eventloop_lag_${stat}_seconds`;
    registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read()[stat] / 1e9);
      },
    });
  }
}

/** HTTP request duration buckets, in seconds: from a cached read to a slow node's forwarding. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The Prometheus registry of one proTES process, served at `/metrics`: the process's own metrics
 * (heap, CPU, event loop), its HTTP requests, and what each part of the process adds to it (the
 * gateway's nodes and tasks, the tracker's polls).
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly durations: Histogram<'method' | 'route' | 'status'>;
  private readonly requestSeries = new Map<
    string,
    { count: Counter.Internal; duration: Histogram.Internal<'method' | 'route' | 'status'> }
  >();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: PROCESS_PREFIX });
    registerEventLoopDelay(this.registry);
    const labelNames = ['method', 'route', 'status'] as const;
    this.requests = this.counter('http_requests_total', 'HTTP requests answered', labelNames);
    this.durations = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving an HTTP request to the end of its answer',
      labelNames,
      buckets: HTTP_BUCKETS,
      registers: [this.registry],
    });
  }

  /**
   * A request answered: `route` is the route's pattern (`/tasks/:id`), never the raw path. The
   * series of each method, route and status are looked up once and kept (there are a few dozen),
   * since prom-client hashes a label object on every call otherwise.
   */
  request(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let series = this.requestSeries.get(key);
    if (!series) {
      const labels = { method, route, status: String(status) };
      series = { count: this.requests.labels(labels), duration: this.durations.labels(labels) };
      this.requestSeries.set(key, series);
    }
    series.count.inc();
    series.duration.observe(seconds);
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []) {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: number[],
  ) {
    return new Histogram<L>({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  /** A gauge whose value is read when it is scraped. */
  gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    collect: (gauge: Gauge<L>) => void | Promise<void>,
  ) {
    return new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        return collect(this);
      },
    });
  }
}

/** `GET /metrics` in Prometheus's text format. */
@Controller()
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}

/**
 * The process's Metrics for every module (global), and `/metrics`. createHttpApp adds it to each
 * application, with the instance its HTTP hooks record into.
 */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(metrics: Metrics): DynamicModule {
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [{ provide: Metrics, useValue: metrics }],
      exports: [Metrics],
    };
  }
}
