import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Metrics } from '@protes/server';
import type { Subscription } from 'rxjs';
import { TrackerService } from './tracker.service';

/**
 * The tracker's metrics: polls per node and outcome, and its lag (TrackerService.lagSeconds). For
 * the processes that run the tracker: the tracker app, and the gateway in standalone mode.
 */
@Injectable()
export class TrackerMetrics implements OnModuleDestroy {
  private readonly subscription: Subscription;

  constructor(tracker: TrackerService, metrics: Metrics) {
    const polls = metrics.counter(
      'protes_tracker_polls_total',
      "reads of a node's tasks by the tracker, by node and outcome (ok, failed)",
      ['node', 'outcome'],
    );
    this.subscription = tracker.polls.subscribe(({ node, ok }) =>
      polls.inc({ node, outcome: ok ? 'ok' : 'failed' }),
    );
    metrics.gauge(
      'protes_tracker_lag_seconds',
      'how long past its poll interval the most overdue node the tracker holds tasks on is',
      [],
      (gauge) => gauge.set(tracker.lagSeconds()),
    );
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }
}
