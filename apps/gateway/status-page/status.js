// @ts-check
/**
 * The status page: what any client of the gateway can read, drawn every few seconds. Nodes from
 * GET /protes/v1/nodes, tasks of the last hour from GET /ga4gh/tes/v1/tasks (MINIMAL view, newest
 * first, paged), the chain from GET /protes/v1/middlewares. With authentication on, those answer
 * 401/403 until the page is given credentials, which it keeps in this tab's sessionStorage only.
 *
 * Everything is drawn with textContent and createElement, never from HTML strings: node names,
 * reasons and middleware names come from configuration and remote nodes.
 */

/**
 * @typedef {{ name: string, healthy: boolean, checkedAt?: string, reason?: string,
 *   tesVersion?: string, location?: { latitude: number, longitude: number }, region?: string,
 *   breaker: string, failures: number, load: number }} NodeStatus
 * @typedef {{ name: string, enabled: boolean }} ChainMiddleware
 * @typedef {{ fallback: ChainMiddleware[], onFailure: string, enabled: boolean }} ChainGroup
 * @typedef {{ source: string, updatedAt?: string, chain: (ChainMiddleware | ChainGroup)[],
 *   storedChainError?: string }} ChainView
 * @typedef {{ tasks: { id: string, state: string }[], next_page_token?: string }} TaskPage
 */

const REFRESH_MS = 5000;
const HOUR_MS = 60 * 60 * 1000;
/** Tasks per ListTasks page, and how many pages at most: the counts stop at 20 000 tasks. */
const PAGE_SIZE = 1000;
const MAX_PAGES = 20;
/** Distinct errors remembered per node. */
const ERRORS_KEPT = 5;
const CREDENTIAL_KEY = 'protes.credential';
const TES_STATES = [
  'QUEUED',
  'INITIALIZING',
  'RUNNING',
  'PAUSED',
  'CANCELING',
  'COMPLETE',
  'EXECUTOR_ERROR',
  'SYSTEM_ERROR',
  'CANCELED',
  'PREEMPTED',
  'UNKNOWN',
];

/** A refusal for want of credentials (401) or of rights (403). */
class NeedsCredentials extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** @param {string} id @returns {HTMLElement} */
function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

/**
 * @param {string} tag
 * @param {string} [text]
 * @param {string} [className]
 */
function element(tag, text, className) {
  const made = document.createElement(tag);
  if (text !== undefined) made.textContent = text;
  if (className) made.className = className;
  return made;
}

/** @param {HTMLElement} row @param {(string | Node)[]} cells */
function addCells(row, cells) {
  for (const cell of cells) {
    const td = element('td');
    td.append(cell);
    row.append(td);
  }
}

/** @param {string} id @param {string} text @param {boolean} [problem] */
function note(id, text, problem = false) {
  const target = byId(id);
  target.textContent = text;
  target.classList.toggle('problem', problem);
}

/**
 * The Authorization header for what was entered: `user:password` is Basic (a token never holds a
 * colon), anything else a bearer token.
 */
function authorization() {
  const credential = sessionStorage.getItem(CREDENTIAL_KEY);
  if (!credential) return undefined;
  return credential.includes(':') ? `Basic ${btoa(credential)}` : `Bearer ${credential}`;
}

/**
 * GETs one of the gateway's APIs (relative to the page, so that a path prefix in front of the
 * gateway is kept). `credentials: 'omit'`: the browser sends no cookie and shows no login dialog
 * of its own on a 401; the page asks instead.
 * @param {string} path
 * @returns {Promise<unknown>}
 */
async function get(path) {
  const auth = authorization();
  const response = await fetch(path, {
    credentials: 'omit',
    cache: 'no-store',
    headers: auth ? { authorization: auth } : {},
  });
  /** @type {unknown} */
  const body = await response.json().catch(() => ({}));
  const said = /** @type {{ msg?: unknown }} */ (body ?? {}).msg;
  const msg = typeof said === 'string' ? said : response.statusText;
  if (response.status === 401 || response.status === 403) {
    throw new NeedsCredentials(response.status, msg);
  }
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${msg}`);
  return body;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * When a task was created, from its id: the gateway's ids are ULIDs, whose first ten characters
 * are the creation time in milliseconds (Crockford base32). Undefined for another kind of id.
 * @param {string} id
 */
function createdAt(id) {
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/i.test(id)) return undefined;
  let ms = 0;
  for (const c of id.slice(0, 10).toUpperCase()) ms = ms * 32 + CROCKFORD.indexOf(c);
  return ms;
}

/**
 * Tasks of the last hour by state. ListTasks answers newest first, so paging stops at the first
 * task older than an hour, or after MAX_PAGES pages.
 * @returns {Promise<{ counts: Map<string, number>, capped: boolean }>}
 */
async function recentTasks() {
  const since = Date.now() - HOUR_MS;
  /** @type {Map<string, number>} */
  const counts = new Map();
  let token;
  for (let page = 0; page < MAX_PAGES; page++) {
    const query = new URLSearchParams({ view: 'MINIMAL', page_size: String(PAGE_SIZE) });
    if (token) query.set('page_token', token);
    const answer = /** @type {TaskPage} */ (await get(`ga4gh/tes/v1/tasks?${query}`));
    for (const task of answer.tasks) {
      const created = createdAt(task.id);
      if (created !== undefined && created < since) return { counts, capped: false };
      counts.set(task.state, (counts.get(task.state) ?? 0) + 1);
    }
    token = answer.next_page_token;
    if (!token) return { counts, capped: false };
  }
  return { counts, capped: true };
}

/** @type {Map<string, { at: string, reason: string }[]>} */
const errorsSeen = new Map();

/** Remembers a node's failure reason, once per distinct reason in a row. @param {NodeStatus} node */
function rememberError(node) {
  if (!node.reason) return;
  const seen = errorsSeen.get(node.name) ?? [];
  if (seen[0]?.reason !== node.reason) {
    seen.unshift({ at: node.checkedAt ?? new Date().toISOString(), reason: node.reason });
    errorsSeen.set(node.name, seen.slice(0, ERRORS_KEPT));
  }
}

/** @param {string} iso */
const clock = (iso) => new Date(iso).toLocaleTimeString();

/** @param {NodeStatus} node */
function place(node) {
  const where = node.location
    ? `${node.location.latitude.toFixed(2)}, ${node.location.longitude.toFixed(2)}`
    : '';
  return [where, node.region ?? ''].filter(Boolean).join(' · ') || '—';
}

/** @param {NodeStatus} node */
function errorList(node) {
  const seen = errorsSeen.get(node.name) ?? [];
  if (!seen.length) return node.failures ? `${node.failures} failed in a row` : '—';
  const list = element('ul', undefined, 'errors');
  for (const { at, reason } of seen) list.append(element('li', `${clock(at)} ${reason}`));
  return list;
}

async function drawNodes() {
  const { nodes } = /** @type {{ nodes: NodeStatus[] }} */ (await get('protes/v1/nodes'));
  const body = document.createElement('tbody');
  for (const node of nodes) {
    rememberError(node);
    const row = element('tr');
    row.dataset.node = node.name;
    addCells(row, [
      node.name,
      element('span', node.healthy ? 'up' : 'down', node.healthy ? 'up' : 'down'),
      element('span', node.breaker, node.breaker),
      place(node),
      String(node.load),
      node.tesVersion ?? '—',
      errorList(node),
    ]);
    body.append(row);
  }
  byId('nodes').querySelector('tbody')?.replaceWith(body);
  note('nodes-note', nodes.length ? '' : 'No node is configured.');
}

async function drawTasks() {
  const { counts, capped } = await recentTasks();
  const body = document.createElement('tbody');
  const states = [...TES_STATES, ...[...counts.keys()].filter((s) => !TES_STATES.includes(s))];
  let total = 0;
  for (const state of states) {
    const count = counts.get(state) ?? 0;
    total += count;
    if (!count) continue;
    const row = element('tr');
    row.dataset.state = state;
    addCells(row, [state, element('span', String(count), 'count')]);
    body.append(row);
  }
  byId('tasks').querySelector('tbody')?.replaceWith(body);
  const limit = capped ? ` (counting stopped at ${PAGE_SIZE * MAX_PAGES} tasks)` : '';
  note('tasks-note', `${total} task${total === 1 ? '' : 's'}${limit}.`);
}

/** @param {ChainMiddleware} member */
const middlewareText = (member) => `${member.name}${member.enabled ? '' : ' (disabled)'}`;

async function drawChain() {
  const view = /** @type {ChainView} */ (await get('protes/v1/middlewares'));
  const list = document.createElement('ol');
  list.id = 'chain';
  for (const entry of view.chain) {
    const item =
      'fallback' in entry
        ? element(
            'li',
            `first of: ${entry.fallback.map(middlewareText).join(' → ')}; if all fail: ` +
              `${entry.onFailure}${entry.enabled ? '' : ' (disabled)'}`,
          )
        : element('li', middlewareText(entry));
    if (!entry.enabled) item.className = 'disabled';
    list.append(item);
  }
  byId('chain').replaceWith(list);
  const since = view.updatedAt ? `, set ${new Date(view.updatedAt).toLocaleString()}` : '';
  const error = view.storedChainError
    ? ` Stored chain not in effect: ${view.storedChainError}`
    : '';
  note('chain-note', `From the ${view.source}${since}.${error}`, Boolean(error));
}

/**
 * Shows the credentials form while an API refuses, saying why; hides it otherwise.
 * @param {NeedsCredentials | undefined} refusal
 */
function askForCredentials(refusal) {
  byId('credentials').hidden = !refusal;
  if (!refusal) return;
  byId('credentials-why').textContent =
    refusal.status === 403
      ? `These credentials may not read everything here (HTTP 403: ${refusal.message}).`
      : `The gateway needs credentials (HTTP 401: ${refusal.message}).`;
}

/** Draws one section; a failure is shown in the section's note and does not stop the others. */
const SECTIONS = /** @type {const} */ ([
  ['nodes-note', drawNodes],
  ['tasks-note', drawTasks],
  ['chain-note', drawChain],
]);

/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;

async function refresh() {
  clearTimeout(timer);
  /** @type {NeedsCredentials | undefined} */
  let refusal;
  await Promise.all(
    SECTIONS.map(async ([noteId, draw]) => {
      try {
        await draw();
      } catch (error) {
        if (error instanceof NeedsCredentials) refusal ??= error;
        const status = error instanceof NeedsCredentials ? `HTTP ${error.status}: ` : '';
        const message = error instanceof Error ? error.message : String(error);
        note(noteId, `Cannot read this: ${status}${message}`, true);
      }
    }),
  );
  askForCredentials(refusal);
  byId('updated').textContent =
    `Updated ${new Date().toLocaleTimeString()}; every ${REFRESH_MS / 1000} s.`;
  timer = setTimeout(() => void refresh(), REFRESH_MS);
}

byId('credentials').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId('credential'));
  sessionStorage.setItem(CREDENTIAL_KEY, input.value.trim());
  input.value = '';
  byId('credentials').hidden = true;
  void refresh();
});
byId('forget').addEventListener('click', () => {
  sessionStorage.removeItem(CREDENTIAL_KEY);
  void refresh();
});

void refresh();
