import { hashPassword } from '@protes/auth';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { DIST, startGateway, type Started } from '../../scripts/processes';
import { CheckedApi, e2eGatewayEnv, runTask, startSimulators, TES_PATH, waitFor } from './helpers';

/**
 * The status page (`/`) and the API docs (`/docs`) in a real headless Chromium (Debian's
 * `chromium` package; CHROMIUM_PATH names another binary), against a gateway and two simulated
 * nodes started for real, as `npm run demo` starts them. A screenshot of the page is kept in
 * var/artifacts/status-page.png.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const ARTIFACTS = join(DIST, '../var/artifacts');
const NODES = [
  { name: 'heidelberg', location: { latitude: 49.41, longitude: 8.69 } },
  { name: 'barcelona', location: { latitude: 41.39, longitude: 2.17 } },
];
const DOWN = 'stockholm';
const SKIPPED = HAVE_CHROMIUM
  ? ''
  : ` (skipped: no Chromium at ${CHROMIUM}; apt-get install chromium, or set CHROMIUM_PATH)`;

// Jest lists no test of a suite that is skipped whole: say why here.
if (!HAVE_CHROMIUM) console.warn(`status page tests${SKIPPED}`);

let dir: string;
let browser: Browser;
const sims = new Map<string, Started>();
const gateways: Started[] = [];

/** A gateway in front of the simulators; `extra` adds variables (authentication). */
async function launchGateway(extra: Record<string, string> = {}): Promise<Started> {
  const nodes = [
    ...NODES.map((n) => ({ ...n, url: `${sims.get(n.name)?.url}${TES_PATH}` })),
    // Nothing listens on port 9: a node that is down from the start.
    { name: DOWN, url: `http://127.0.0.1:9${TES_PATH}` },
  ];
  const gateway = await startGateway(
    e2eGatewayEnv(dir, nodes, {
      PROTES_STORE__SQLITE_PATH: join(dir, `protes-${gateways.length}.db`),
      PROTES_MIDDLEWARE__CHAIN: '["least-loaded", {"fallback": ["distance", "random"]}]',
      ...extra,
    }),
  );
  gateways.push(gateway);
  return gateway;
}

/**
 * A new tab that records what would break the page for a user: uncaught errors, and requests the
 * Content-Security-Policy refused.
 */
async function openTab(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  return { page, problems };
}

/** The text of `selector` once it matches `expected` (the page draws after its calls return). */
async function textOf(page: Page, selector: string, expected: RegExp): Promise<string> {
  let last = '';
  return waitFor(
    `${selector} to show ${expected}`,
    async () => {
      last = (await page.locator(selector).allTextContents()).join(' | ');
      return expected.test(last) && last;
    },
    { timeoutMs: 15_000, intervalMs: 100, describe: () => `it shows "${last}"` },
  );
}

const count = (page: Page, state: string) =>
  page.locator(`#tasks tr[data-state="${state}"] .count`).textContent();

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  dir = mkdtempSync(join(tmpdir(), 'protes-status-page-'));
  mkdirSync(ARTIFACTS, { recursive: true });
  await startSimulators(
    NODES.map((n) => n.name),
    ['--queued-ms', '20', '--initializing-ms', '20', '--running-ms', '50'],
    sims,
  );
  browser = await chromium.launch({ executablePath: CHROMIUM });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([...gateways, ...sims.values()].map((p) => p.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

(HAVE_CHROMIUM ? describe : describe.skip)(`the status page in Chromium${SKIPPED}`, () => {
  let gateway: Started;
  let api: CheckedApi;
  let page: Page;
  let problems: string[];

  beforeAll(async () => {
    gateway = await launchGateway();
    api = new CheckedApi(gateway.url);
    // Known down before any task, so that no task is sent to it.
    await waitFor(`${DOWN} to be down`, async () =>
      (await api.nodes()).some((n) => n.name === DOWN && !n.healthy),
    );
    const ids = await Promise.all([
      api.create(runTask('page', 'one')),
      api.create(runTask('page', 'two')),
      api.create(runTask('page', 'three')),
      api.create({ executors: [{ image: 'alpine', command: ['false'] }] }),
    ]);
    await api.waitForAllEnded(ids);
    ({ page, problems } = await openTab());
    await page.goto(`${gateway.url}/`);
  }, 60_000);

  it('shows each node with its health, breaker, location and load', async () => {
    for (const node of NODES) {
      const row = `#nodes tr[data-node="${node.name}"] td`;
      const { latitude, longitude } = node.location;
      const cells = await textOf(page, row, /up/);
      expect(cells.split(' | ')).toEqual([
        node.name,
        'up',
        'closed',
        `${latitude.toFixed(2)}, ${longitude.toFixed(2)}`,
        '0',
        '1.1.0',
        '—',
      ]);
    }
  });

  it('shows a node that is down, with the reason its calls fail', async () => {
    const { reason } = (await api.nodes()).find((n) => n.name === DOWN) ?? {};
    expect(reason).toEqual(expect.any(String));
    const cells = (await textOf(page, `#nodes tr[data-node="${DOWN}"] td`, /down/)).split(' | ');
    expect(cells.slice(0, 2)).toEqual([DOWN, 'down']);
    expect(cells[3]).toBe('—');
    expect(cells[6]).toContain(reason);
  });

  it('counts the tasks of the last hour by state', async () => {
    await textOf(page, '#tasks-note', /^4 tasks\.$/);
    expect(await count(page, 'COMPLETE')).toBe('3');
    expect(await count(page, 'EXECUTOR_ERROR')).toBe('1');
    expect(await page.locator('#tasks tbody tr').count()).toBe(2);
  });

  it('shows the middleware chain in effect', async () => {
    await textOf(page, '#chain-note', /From the configuration/);
    expect(await page.locator('#chain li').allTextContents()).toEqual([
      'least-loaded',
      'first of: distance → random; if all fail: fail',
    ]);
    await page.screenshot({ path: join(ARTIFACTS, 'status-page.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('refreshes itself: a new task and a changed chain show without reloading', async () => {
    // A mark on the document: a reload would take it away. (Strings: the tests have no DOM types.)
    await page.evaluate('window.sameDocument = true');
    await api.waitForAllEnded([await api.create(runTask('page', 'four'))]);
    const chain = await fetch(`${gateway.url}/protes/v1/middlewares`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chain: ['random'] }),
    });
    expect(chain.status).toBe(200);
    await textOf(page, '#tasks-note', /^5 tasks\.$/);
    expect(await count(page, 'COMPLETE')).toBe('4');
    await textOf(page, '#chain li', /^random$/);
    expect(await page.evaluate('window.sameDocument')).toBe(true);
    expect(problems).toEqual([]);
  });

  it('/docs renders every operation, TES and proTES, under its CSP', async () => {
    const docs = await openTab();
    const answer = await docs.page.goto(`${gateway.url}/docs`);
    expect(answer?.headers()['content-security-policy']).toContain("script-src 'self'");
    const paths = await textOf(docs.page, '.opblock-summary-path', /\/protes\/v1\/nodes/);
    for (const path of [
      `${TES_PATH}/tasks`,
      `${TES_PATH}/tasks/{id}`,
      `${TES_PATH}/service-info`,
      '/protes/v1/middlewares',
      '/health',
      '/metrics',
    ]) {
      expect(paths.split(' | ')).toContain(path);
    }
    expect(docs.problems).toEqual([]);
    await docs.page.close();
  });
});

(HAVE_CHROMIUM ? describe : describe.skip)(
  `the status page with authentication on${SKIPPED}`,
  () => {
    const PASSWORD = 'status-page-secret';
    let page: Page;

    beforeAll(async () => {
      const passwordHash = await hashPassword(PASSWORD, { n: 2 ** 14, r: 8, p: 1 });
      const gateway = await launchGateway({
        PROTES_AUTH__ENABLED: 'true',
        PROTES_AUTH__BASIC__USERS: JSON.stringify(
          ['viewer', 'root'].map((username) => ({ username, passwordHash })),
        ),
        PROTES_AUTH__ADMIN__SUBJECTS: '["basic|root"]',
      });
      ({ page } = await openTab());
      await page.goto(`${gateway.url}/`);
    }, 60_000);

    async function signIn(user: string): Promise<void> {
      await page.fill('#credential', `${user}:${PASSWORD}`);
      await page.click('#credentials button[type="submit"]');
    }

    it('asks for credentials while the APIs answer 401, and keeps them in the tab', async () => {
      await textOf(page, '#credentials-why', /HTTP 401/);
      expect(await page.isVisible('#credentials')).toBe(true);
      await textOf(page, '#nodes-note', /Cannot read this: HTTP 401/);
      await signIn('viewer');
      await textOf(page, '#tasks-note', /^0 tasks\.$/);
      expect(await page.evaluate('sessionStorage.getItem("protes.credential")')).toBe(
        `viewer:${PASSWORD}`,
      );
    });

    it("says the nodes and the chain are an administrator's, and shows them to one", async () => {
      await textOf(page, '#nodes-note', /HTTP 403: only administrators/);
      await textOf(page, '#credentials-why', /HTTP 403/);
      await signIn('root');
      await textOf(page, '#nodes tr[data-node="heidelberg"] td', /up/);
      await textOf(page, '#chain li', /least-loaded/);
      expect(await page.isVisible('#credentials')).toBe(false);
    });
  },
);
