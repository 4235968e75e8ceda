// The dashboard page: signs in (or not, when summaries are public), draws the national headline, the
// candidates, the map, the states' table, a state's municipalities, the incidents timeline, the missing
// centres and the process analysis, and keeps them current through live.js.

import { get, session } from './api.js';
import { timeBars } from './charts.js';
import config from './config.js';
import { fmt, t, translatePage } from './i18n.js';
import { startLive } from './live.js';
import { CANDIDATE_PALETTES, COVERAGE_BINS, COVERAGE_COLOURS, drawMap, LEADER_BINS, leaderOf, NO_DATA } from './map.js';

const $ = (id) => document.getElementById(id);
const h = (tag, attributes = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
};

const state = {
  candidates: [], // the election's, sorted by national votes once known
  national: null,
  states: [],
  map: null,
  shade: 'coverage',
  selected: null,
  sort: { key: 'name', direction: 'ascending' },
  stopLive: null,
  nationalScope: true,
  refreshTimer: null,
  lastRefresh: 0,
  /** Counts sign-outs: a start() still loading when the user signs out must not go live afterwards. */
  session: 0,
};

translatePage();
void boot();

async function boot() {
  $('signin').addEventListener('submit', (event) => {
    event.preventDefault();
    session.token = $('token').value.trim();
    $('token').value = '';
    void signedIn();
  });
  $('signout').addEventListener('click', () => {
    session.token = null;
    stop();
    $('main').hidden = true;
    $('signout').hidden = true;
    $('signin').hidden = false;
    $('live-status').textContent = '';
    $('token').focus();
  });
  for (const radio of document.querySelectorAll('input[name="shade"]')) {
    radio.addEventListener('change', () => {
      state.shade = radio.value;
      renderMap();
    });
  }
  $('missing-kind').addEventListener('change', () => void loadMissing());
  $('analysis-form').addEventListener('change', () => void loadAnalysis());
  if (config.publicSummaries) return start();
  if (session.token) return signedIn();
  $('signin').hidden = false;
}

async function signedIn() {
  const check = await get('/v1/me');
  if (check.status === 401) {
    session.token = null;
    $('signin').hidden = false;
    $('signin-error').textContent = t.badToken;
    $('token').focus();
    return;
  }
  if (check.status !== 200 || check.body.role === 'observer') {
    // Observers report; they read no summaries (every poll would be refused).
    session.token = null;
    $('signin').hidden = false;
    $('signin-error').textContent = t.noSummaries;
    return;
  }
  // Only a national scope reads the national row (a coordinator's is a region).
  state.nationalScope = check.body.scopeRegion === null;
  $('signin-error').textContent = '';
  $('signin').hidden = true;
  $('signout').hidden = false;
  await start();
}

function stop() {
  state.session += 1;
  state.stopLive?.();
  state.stopLive = null;
  clearTimeout(state.refreshTimer);
  state.refreshTimer = null;
}

async function start() {
  const session = state.session;
  $('main').hidden = false;
  const election = await get('/v1/election');
  if (session !== state.session) return;
  if (election.status === 200) {
    state.candidates = election.body.candidates.map((candidate) => ({ code: candidate.code, name: candidate.name }));
    $('election-name').textContent = election.body.name;
  }
  $('missing-panel').hidden = config.publicSummaries;
  await Promise.all([loadMap(), loadForms()]);
  if (session !== state.session) return; // signed out meanwhile
  state.stopLive = startLive({
    national: config.publicSummaries || state.nationalScope,
    onSummary: ({ national, states }) => {
      if (national) state.national = national;
      if (states) state.states = states;
      render();
      scheduleRefresh();
    },
    onMode: (mode) => {
      const words = mode === 'stream' ? t.live : t.polling;
      $('live-status').dataset.mode = mode;
      $('live-status').textContent = config.publicSummaries ? `${t.publicMode} · ${words}` : words;
    },
  });
}

/** The panels that are not in the stream's payload, refreshed after a change, at most every 5 s. */
function scheduleRefresh() {
  if (state.refreshTimer) return;
  const wait = Math.max(0, state.lastRefresh + 5000 - Date.now());
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    state.lastRefresh = Date.now();
    void loadIncidents();
    if (!config.publicSummaries) void loadMissing();
    if (state.selected) void loadState(state.selected, { focus: false });
  }, wait);
}

function candidatesByVotes() {
  const votes = state.national?.results.votes ?? {};
  const known = state.candidates.length ? state.candidates : Object.keys(votes).map((code) => ({ code, name: code }));
  return [...known].sort((a, b) => (votes[b.code] ?? 0) - (votes[a.code] ?? 0));
}

function render() {
  state.candidates = candidatesByVotes();
  renderHeadline();
  renderMap();
  renderStates();
  const stamp = fmt.time(new Date());
  $('live-status').title = t.updated(stamp);
}

function renderHeadline() {
  const row = state.national;
  $('headline').hidden = !row;
  if (!row) return;
  const c = row.coverage;
  const ofTotal = (count, total, share) => `${fmt.int(count)} ${t.of} ${fmt.int(total)} (${fmt.pctShort(share)})`;
  $('h-reporting').textContent = ofTotal(c.centresReporting, c.centres, c.centresReportingShare);
  $('h-opened').textContent = ofTotal(c.centresOpened, c.centres, c.centresOpenedShare);
  $('h-tables').textContent = ofTotal(c.tablesCounted, c.tables, c.tablesCountedShare);
  $('h-turnout').textContent = fmt.pct(row.results.turnout);
  const list = $('candidates');
  list.replaceChildren(
    ...state.candidates.map((candidate) => {
      const votes = row.results.votes[candidate.code] ?? 0;
      const share = row.results.shares[candidate.code] ?? 0;
      const bar = h('span', { class: 'bar-fill' });
      bar.style.width = `${(share * 100).toFixed(2)}%`;
      return h(
        'li',
        { 'data-candidate': candidate.code },
        h('span', { class: 'bar-name' }, candidate.name),
        h('span', { class: 'bar-track', 'aria-hidden': 'true' }, bar),
        h('span', { class: 'bar-value' }, h('span', { class: 'votes' }, fmt.int(votes)), ` · ${fmt.pct(share)}`),
      );
    }),
  );
}

async function loadMap() {
  if (!config.features.geojson) return;
  const answer = await get('/v1/summaries.geojson?level=state');
  if (answer.status !== 200) return; // no map on this server: the panel stays hidden
  state.map = drawMap($('map'), answer.body.features, { onSelect: (code) => void loadState(code, { focus: true }) });
  if (answer.body.attribution) $('map-attribution').textContent = answer.body.attribution;
  $('map-panel').hidden = false;
  renderMap();
}

function describeState(name, row) {
  if (!row) return `${name}: ${t.noData}`;
  const leader = leaderOf(row, state.candidates);
  const parts = [`${name}`, `${t.centresReporting} ${fmt.pctShort(row.coverage.centresReportingShare)}`];
  if (leader) parts.push(`${t.leading}: ${leader.name} ${fmt.pctShort(leader.share)}`);
  return parts.join(', ');
}

/** Labels of the classes between `bins` ("< 20%", "20%–40%", …, "≥ 80%"). */
const binLabels = (bins) =>
  [0, ...bins].map((low, index) =>
    index === 0
      ? `< ${fmt.pctWhole(bins[0])}`
      : index === bins.length
        ? `≥ ${fmt.pctWhole(low)}`
        : `${fmt.pctWhole(low)}–${fmt.pctWhole(bins[index])}`,
  );

function renderMap() {
  if (!state.map) return;
  const rows = new Map(state.states.map((row) => [row.code, row]));
  state.map.shade(rows, state.shade, state.candidates, describeState);
  const legend = $('legend');
  if (state.shade === 'coverage') {
    legend.replaceChildren(
      h('p', { class: 'legend-title' }, t.coverage),
      h(
        'ul',
        {},
        ...binLabels(COVERAGE_BINS).map((label, index) => swatch(COVERAGE_COLOURS[index], label)),
        swatch(NO_DATA, t.noData),
      ),
    );
  } else {
    // The candidates leading somewhere, each in its hue, and the share classes (in the first one's hue).
    const leading = new Set(state.states.map((row) => leaderOf(row, state.candidates)?.code));
    const leaders = state.candidates
      .slice(0, CANDIDATE_PALETTES.length)
      .map((candidate, index) => ({ ...candidate, index }))
      .filter((candidate) => leading.has(candidate.code));
    const first = CANDIDATE_PALETTES[leaders[0]?.index ?? 0];
    legend.replaceChildren(
      h('p', { class: 'legend-title' }, t.leader),
      h('ul', {}, ...leaders.map((candidate) => swatch(CANDIDATE_PALETTES[candidate.index][3], candidate.name))),
      h('ul', { class: 'bins' }, ...binLabels(LEADER_BINS).map((label, index) => swatch(first[index], label))),
    );
  }
}

function swatch(colour, text) {
  const box = h('span', { class: 'swatch', 'aria-hidden': 'true' });
  box.style.background = colour;
  return h('li', {}, box, text);
}

const columns = [
  { key: 'name', label: () => t.name, value: (row) => row.name, text: (row) => row.name },
  {
    key: 'reporting',
    label: () => t.centresReporting,
    value: (row) => row.coverage.centresReportingShare ?? -1,
    text: (row) => `${fmt.int(row.coverage.centresReporting)} (${fmt.pctShort(row.coverage.centresReportingShare)})`,
  },
  {
    key: 'opened',
    label: () => t.centresOpened,
    value: (row) => row.coverage.centresOpened,
    text: (row) => fmt.int(row.coverage.centresOpened),
  },
  {
    key: 'tables',
    label: () => t.tablesCounted,
    value: (row) => row.coverage.tablesCounted,
    text: (row) => `${fmt.int(row.coverage.tablesCounted)} ${t.of} ${fmt.int(row.coverage.tables)}`,
  },
  {
    key: 'turnout',
    label: () => t.turnout,
    value: (row) => row.results.turnout ?? -1,
    text: (row) => fmt.pct(row.results.turnout),
  },
  {
    key: 'leader',
    label: () => t.leading,
    value: (row) => leaderOf(row, state.candidates)?.share ?? -1,
    text: (row) => {
      const leader = leaderOf(row, state.candidates);
      return leader ? `${leader.name} ${fmt.pctShort(leader.share)}` : '—';
    },
  },
  {
    key: 'incidents',
    label: () => t.incidents,
    value: (row) => row.incidents.total,
    text: (row) => fmt.int(row.incidents.total),
  },
];

function regionTable(table, rows, { sortable, onPick }) {
  const { key, direction } = state.sort;
  const sorted = sortable
    ? [...rows].sort((a, b) => {
        const column = columns.find((candidate) => candidate.key === key);
        const [x, y] = [column.value(a), column.value(b)];
        const order = typeof x === 'string' ? x.localeCompare(y) : x - y;
        return direction === 'ascending' ? order : -order;
      })
    : rows;
  const head = h(
    'tr',
    {},
    ...columns.map((column) => {
      if (!sortable) return h('th', { scope: 'col' }, column.label());
      const current = column.key === key;
      return h(
        'th',
        { scope: 'col', 'aria-sort': current ? direction : 'none' },
        h(
          'button',
          {
            type: 'button',
            'data-sort': column.key,
            onclick: () => {
              state.sort = {
                key: column.key,
                direction: current && direction === 'ascending' ? 'descending' : 'ascending',
              };
              renderStates();
              table.querySelector(`button[data-sort="${column.key}"]`)?.focus();
            },
          },
          column.label(),
          h(
            'span',
            { class: 'arrow', 'aria-hidden': 'true' },
            current ? (direction === 'ascending' ? ' ▲' : ' ▼') : '',
          ),
        ),
      );
    }),
  );
  const body = sorted.map((row) =>
    h(
      'tr',
      { 'data-code': row.code },
      ...columns.map((column, index) =>
        index === 0
          ? h(
              'th',
              { scope: 'row' },
              onPick
                ? h('button', { type: 'button', class: 'link', onclick: () => onPick(row.code) }, column.text(row))
                : column.text(row),
            )
          : h('td', { 'data-column': column.key }, column.text(row)),
      ),
    ),
  );
  table.replaceChildren(h('thead', {}, head), h('tbody', {}, ...body));
}

function renderStates() {
  regionTable($('states'), state.states, { sortable: true, onPick: (code) => void loadState(code, { focus: true }) });
}

async function loadState(code, { focus }) {
  state.selected = code;
  state.map?.select(code);
  const answer = await get(`/v1/summaries?level=municipality&parent=${encodeURIComponent(code)}`);
  if (answer.status !== 200) return;
  const row = state.states.find((candidate) => candidate.code === code);
  const panel = $('state-detail');
  $('state-title').textContent = answer.body.parent?.name ?? row?.name ?? code;
  panel.dataset.code = code;
  const own = $('state-row');
  own.replaceChildren();
  if (row) {
    const table = h('table', { class: 'own' });
    regionTable(table, [row], { sortable: false });
    own.append(h('div', { class: 'scroll' }, table));
  }
  regionTable($('municipalities'), answer.body.items, { sortable: false });
  panel.hidden = false;
  if (focus) panel.focus();
}

async function loadIncidents() {
  const answer = await get('/v1/summaries/timeline?kind=incident&bucket=15m&limit=1000');
  if (answer.status !== 200) {
    $('incidents-panel').hidden = true;
    return;
  }
  $('incidents-panel').hidden = false;
  timeBars(
    $('incidents'),
    answer.body.items.map((item) => ({
      start: item.start,
      end: item.end,
      count: item.byKind.incident ?? item.reports,
    })),
    { label: t.incidentsTimeline, empty: t.noIncidents },
  );
}

async function loadMissing() {
  if (config.publicSummaries) return;
  const kind = $('missing-kind').value;
  const answer = await get(`/v1/summaries/missing?kind=${kind}&limit=50`);
  if (answer.status !== 200) {
    $('missing-panel').hidden = true;
    return;
  }
  $('missing-panel').hidden = false;
  const items = answer.body.items;
  $('missing-count').textContent = items.length
    ? t.missingShown(items.length, Boolean(answer.body.nextCursor))
    : t.noMissing;
  $('missing').replaceChildren(
    ...items.map((item) =>
      h(
        'li',
        { 'data-code': item.code },
        h('strong', {}, `${item.code} ${item.name}`),
        ` — ${t.observers}: ${item.observers.map((observer) => observer.name).join(', ') || t.none}`,
      ),
    ),
  );
}

async function loadForms() {
  void loadIncidents();
  void loadMissing();
  if (!config.features.analysis) return;
  const answer = await get('/v1/forms');
  if (answer.status !== 200 || !answer.body.items?.length) return;
  $('analysis-form').replaceChildren(
    ...answer.body.items.map((form) =>
      h('option', { value: form.key ?? form.kind }, form.title ?? form.key ?? form.kind),
    ),
  );
  // The voting form by default: the one observers fill in about the process.
  if (answer.body.items.some((form) => (form.key ?? form.kind) === 'voting')) $('analysis-form').value = 'voting';
  $('analysis-panel').hidden = false;
  await loadAnalysis();
}

/** One question's findings in a region (GET /v1/analysis's AnalysisAnswer), as a line of text. */
function describeQuestion(answer) {
  const share = (value) => (value === null || value === undefined ? '—' : fmt.pctShort(value));
  switch (answer.type) {
    case 'boolean':
      return `${t.yes} ${fmt.int(answer.yes)} · ${t.no} ${fmt.int(answer.no)} (${share(answer.yesShare)} ${t.yes})`;
    case 'single':
    case 'multiple':
    case 'codes':
      return Object.entries(answer.counts ?? {})
        .sort((a, b) => b[1] - a[1])
        .map(([option, count]) => `${option} ${fmt.int(count)} (${share(answer.shares?.[option])})`)
        .join(' · ');
    case 'integer':
      return answer.answered
        ? `${t.median} ${fmt.num(answer.median)} · ${t.mean} ${fmt.num(answer.mean)} (${fmt.int(answer.min)}–${fmt.int(answer.max)}), n ${fmt.int(answer.answered)}`
        : '—';
    case 'time':
      return answer.answered
        ? `${t.median} ${answer.median} (${answer.earliest}–${answer.latest}), n ${fmt.int(answer.answered)}`
        : '—';
    default:
      return `n ${fmt.int(answer.answered)}`;
  }
}

async function loadAnalysis() {
  const key = $('analysis-form').value;
  const answer = await get(`/v1/analysis?kind=${encodeURIComponent(key)}&level=state`);
  const container = $('analysis');
  container.replaceChildren();
  if (answer.status !== 200) {
    container.append(h('p', { class: 'muted' }, t.noAnalysis));
    return;
  }
  const rows = answer.body.items ?? answer.body.rows ?? answer.body;
  if (!Array.isArray(rows) || rows.length === 0) {
    container.append(h('p', { class: 'muted' }, t.noAnalysis));
    return;
  }
  const questions = [...new Set(rows.flatMap((row) => Object.keys(row.questions ?? {})))];
  for (const question of questions) {
    container.append(
      h('h3', {}, question),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, t.name),
              h('th', { scope: 'col' }, t.units),
              h('th', { scope: 'col' }, t.question),
            ),
          ),
          h(
            'tbody',
            {},
            ...rows.map((row) =>
              h(
                'tr',
                {},
                h('th', { scope: 'row' }, row.name),
                h('td', {}, `${fmt.int(row.units?.reporting)} ${t.of} ${fmt.int(row.units?.total)}`),
                h('td', {}, row.questions?.[question] ? describeQuestion(row.questions[question]) : '—'),
              ),
            ),
          ),
        ),
      ),
    );
  }
}
