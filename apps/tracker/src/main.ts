import { ConfigError } from '@protes/config';
import { startTracker } from './tracker-bootstrap';

startTracker()
  .then(({ url, owner }) => {
    // One plain line that scripts (the tests) wait for.
    process.stdout.write(`proTES tracker ${owner} listening on ${url}\n`);
  })
  .catch((error: unknown) => {
    process.stderr.write(
      error instanceof ConfigError
        ? `proTES tracker: ${error.message}\n`
        : `proTES tracker failed to start: ${(error as Error)?.stack ?? String(error)}\n`,
    );
    process.exit(1);
  });
