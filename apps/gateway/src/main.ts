import { ConfigError } from '@protes/config';
import { startGateway } from './gateway-bootstrap';

startGateway()
  .then(({ url }) => {
    // One plain line that scripts (the demo, the tests) wait for.
    process.stdout.write(`proTES gateway listening on ${url} (TES API at ${url}/ga4gh/tes/v1)\n`);
  })
  .catch((error: unknown) => {
    process.stderr.write(
      error instanceof ConfigError
        ? `proTES: ${error.message}\n`
        : `proTES failed to start: ${(error as Error)?.stack ?? String(error)}\n`,
    );
    process.exit(1);
  });
