// Runs and compliance (spec §14): a held sweep at the top (§5), released
// with a Business Head's approval; the sweep and pool sync runs, newest
// first, and Start sync; the compliance report for a period, on screen and
// as CSV. Every route here is for admins: a non-admin reads the API's
// refusal, and no button that would only be refused.

import { api } from './api.js';
import { h, heading, when, alert, status, details, field, sentence } from './dom.js';
import { openApproval } from './actions.js';

const holdReasons = { TooMany: 'too many at once', TriggersNotAttached: 'triggers not attached' };

export function evidenceView(main) {
  const live = h('p', { role: 'status', class: 'live' });
  const hold = h('section', { 'aria-labelledby': 'hold-title', class: 'held', hidden: true });
  const runs = h('section', { 'aria-labelledby': 'runs-title' });
  const report = h('section', { 'aria-labelledby': 'compliance-title' });
  main.replaceChildren(heading('Runs and compliance'), live, hold, runs, report);
  const say = (message) => status(live, message);
  holdSection(hold, say);
  runsSection(runs, say);
  reportSection(report, say);
}

// holdSection shows the newest real sweep if it was held, and whether an
// admin has released it since (a SweepReleased entry after it started):
// the API keeps the hold itself, and answers for it only by its runs and
// its audit trail.
async function holdSection(section, say) {
  let run, release;
  try {
    run = (await api.runs({ kind: 'sweep' })).runs.find((r) => !r.dryRun);
    if (run?.held) release = (await api.releases(run.startedAt)).entries[0];
  } catch {
    return; // the list of runs below says why
  }
  if (!run?.held) return;
  const title = h('h2', { id: 'hold-title', tabindex: -1 });
  section.hidden = false;
  if (release) return released(release.occurredAt, release.approvalReference, release.approvedBy);
  const s = run.summary ?? {};
  title.textContent = 'Sweep held';
  section.replaceChildren(title,
    h('p', {}, 'The sweep of ', when(run.startedAt), ' deactivated nobody: ', run.holdReason === 'TriggersNotAttached'
      ? 'the user pool does not call the login hook for every trigger, so inactivity cannot be measured. Attach the triggers; the next run then goes ahead.'
      : `${s.due} of ${s.activeUsers} active users were due, more than the guard allows (more than ${count(run.policy.holdAboveCount, 'user')} and ${run.policy.holdAbovePercent}% of the active ones).`),
    h('p', { class: 'muted' }, 'Meanwhile each user past the threshold is still deactivated on signing in. Release lets the next run go ahead, with a recorded Business Head approval.'),
    h('button', {
      type: 'button',
      onclick: () => openApproval({
        title: 'Release the held sweep',
        intro: 'The next run deactivates the users that were due. Like an activation, this needs a Business Head’s approval.',
        submit: 'Release',
        act: (approval) => api.release(approval),
        done: (hold) => {
          released(hold.releasedAt, hold.approvalReference, hold.approvedBy);
          say(`The sweep is released (approval ${hold.approvalReference}). The next run goes ahead.`);
          title.focus();
        },
      }),
    }, 'Release'));

  function released(at, reference, approvedBy) {
    title.textContent = 'Sweep released';
    section.className = 'notice';
    section.replaceChildren(title, h('p', {}, 'The held sweep of ', when(run.startedAt), ' was released on ', when(at),
      ` with approval ${reference} (approved by ${approvedBy}). The next run goes ahead for the users that were due.`));
  }
}

const count = (n, what) => `${n} ${what}${n === 1 ? '' : 's'}`;

function runsSection(section, say) {
  const kind = h('select', { name: 'kind' },
    [['', 'Any'], ['sweep', 'Sweeps'], ['sync', 'Pool syncs']].map(([value, text]) => h('option', { value }, text)));
  const filter = h('form', { 'aria-label': 'Runs' }, field('run-kind', 'Kind', kind), h('button', { type: 'submit' }, 'Show runs'));
  filter.addEventListener('submit', (e) => {
    e.preventDefault();
    load('');
  });
  const sync = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Start sync');
  const tbody = h('tbody');
  const table = h('table', { class: 'list' },
    h('caption', { class: 'sr-only' }, 'Runs, newest first'),
    h('thead', {}, h('tr', {}, ['Started', 'Kind', 'Dry run', 'Held', 'Figures'].map((t) => h('th', { scope: 'col' }, t)))),
    tbody);
  const errors = h('div');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More');
  const summary = h('p', { class: 'muted' });
  section.replaceChildren(h('h2', { id: 'runs-title' }, 'Sweep and sync runs'),
    h('p', {}, 'Every sweep and pool sync of the last 30 days: what it did, and whether it was held.'),
    h('div', { class: 'filters' }, filter, sync), errors, h('div', { class: 'scroll' }, table), summary, more);

  let cursor = '';
  async function load(from) {
    more.disabled = true;
    table.setAttribute('aria-busy', 'true');
    try {
      const page = await api.runs({ kind: kind.value, cursor: from });
      if (!from) tbody.replaceChildren();
      for (const run of page.runs) tbody.append(row(run));
      cursor = page.cursor;
      more.hidden = !cursor;
      sync.hidden = false; // the list is for admins, and so is a sync
      summary.textContent = tbody.rows.length ? '' : 'No runs in the last 30 days.';
      alert(errors, '');
    } catch (err) {
      alert(errors, err.message);
    } finally {
      more.disabled = false;
      table.removeAttribute('aria-busy');
    }
  }
  more.addEventListener('click', () => load(cursor));
  sync.addEventListener('click', async () => {
    sync.disabled = true;
    try {
      const { runId } = await api.sync();
      say(`Pool sync started (run ${runId}). It runs in the background; choose Show runs to see it once it ends.`);
    } catch (err) {
      alert(errors, err.message);
    } finally {
      sync.disabled = false;
    }
  });
  load('');
}

function row(run) {
  return h('tr', {},
    h('th', { scope: 'row' }, when(run.startedAt)),
    h('td', {}, run.kind === 'sync' ? 'Pool sync' : 'Sweep'),
    h('td', {}, run.dryRun ? 'Yes' : 'No'),
    h('td', {}, run.held ? h('strong', { class: 'alarm' }, `Yes: ${holdReasons[run.holdReason] ?? run.holdReason}`) : 'No'),
    h('td', {}, figures(run)));
}

// figures are a run's main numbers, from its own summary.
function figures(run) {
  const s = run.summary;
  if (!s) return run.endedAt ? '—' : 'Running';
  if (run.kind === 'sync') {
    return `${s.listed} listed, ${s.imported} imported, ${s.missingFromPool} missing from the pool${s.complete ? '' : ' (carries on)'}`;
  }
  const done = run.dryRun ? `would deactivate ${s.wouldDeactivateCount ?? 0}, would warn ${s.wouldWarnCount ?? 0}` : `${s.deactivated} deactivated, ${s.warned} warned`;
  return `${done}, ${s.due} due, ${count(s.activeUsers, 'active user')}`;
}

// reportSection asks for the report of a period. The dates start as the
// last 30 days; left so, the API's own "last 30 days" is asked for, by its
// clock (make dev's can be moved), and the dates then show that period.
function reportSection(section, say) {
  const from = h('input', { type: 'date', required: true });
  const to = h('input', { type: 'date', required: true });
  let initial = { from: day(new Date(Date.now() - 30 * 864e5)), to: day(new Date()) };
  from.value = initial.from;
  to.value = initial.to;
  const show = h('button', { type: 'submit' }, 'Show report');
  const download = h('button', { type: 'button', class: 'secondary' }, 'Download CSV');
  const form = h('form', { class: 'filters', 'aria-label': 'Report period' },
    field('report-from', 'From', from), field('report-to', 'To', to), show, download);
  const errors = h('div');
  const out = h('div');
  section.replaceChildren(h('h2', { id: 'compliance-title' }, 'Compliance report'),
    h('p', {}, 'The evidence an auditor asks for (CIS 5.3, PCI DSS 8.2.6, NIST AC-2(3)): the state now, and what happened in the period.'),
    form, errors, out);

  const untouched = () => from.value === initial.from && to.value === initial.to;
  // period is the dates as the API takes them: from the start of From to
  // the end of To, in the reader's time zone.
  function period() {
    if (untouched()) return {};
    const end = new Date(`${to.value}T00:00`);
    end.setDate(end.getDate() + 1);
    return { from: new Date(`${from.value}T00:00`).toISOString(), to: end.toISOString() };
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    show.disabled = true;
    out.setAttribute('aria-busy', 'true');
    try {
      const defaults = untouched();
      const r = await api.report(period());
      if (defaults) {
        initial = { from: day(new Date(r.from)), to: day(new Date(r.to)) };
        from.value = initial.from;
        to.value = initial.to;
      }
      alert(errors, '');
      out.replaceChildren(...reportParts(r).flat().filter((part) => part));
      say(`The report from ${from.value} to ${to.value} is shown below.`);
    } catch (err) {
      alert(errors, err.message);
    } finally {
      show.disabled = false;
      out.removeAttribute('aria-busy');
    }
  });

  download.addEventListener('click', async () => {
    if (!form.reportValidity()) return;
    download.disabled = true;
    try {
      const name = untouched() ? 'dormancy-compliance-last-30-days.csv' : `dormancy-compliance-${from.value}-to-${to.value}.csv`;
      const url = URL.createObjectURL(await api.reportCSV(period()));
      const a = h('a', { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60e3);
      alert(errors, '');
      say(`The report is downloaded as ${name}.`);
    } catch (err) {
      alert(errors, err.message);
    } finally {
      download.disabled = false;
    }
  });
}

// day is a date input's value for d, in the reader's time zone.
function day(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function reportParts(r) {
  const past = r.pastThresholdNotDeactivated;
  const groups = Object.entries(r.policy.groupDays).map(([g, d]) => `${g} ${d} days`);
  return [
    details([
      ['As of', when(r.asOf)],
      ['Period', [when(r.from), ' to ', when(r.to)]],
      ['Threshold', `${r.policy.defaultDays} days${groups.length ? ` (${groups.join(', ')})` : ''}`],
      ['Exempt groups', r.policy.exemptGroups.join(', ') || 'None'],
      ['Active users', r.activeUsers],
      ['Past threshold, not deactivated', past
        ? h('strong', { class: 'alarm' }, `${past}: active users past their threshold that no sweep has deactivated yet`) : '0'],
      ['Held runs in the period', r.held],
    ]),
    table('Controls', ['Control', 'Name', 'Verdict', 'Evidence'], r.controls, (c) => [
      c.id, c.name, h('span', { class: c.meets ? 'badge yes' : 'badge no' }, c.meets ? 'Meets' : 'Does not meet'), sentence(c.evidence)]),
    past ? table('Past their threshold, not deactivated', ['User', 'Threshold', 'Due since'], r.pastThreshold, (u) => [
      userLink(u), `${u.thresholdDays} days`, when(u.dueAt)]) : null,
    table('Exempt, past their threshold', ['User', 'Exempt by group', 'Last activity'], r.exemptPastThreshold, (u) => [
      userLink(u), u.exemptBy ?? '—', when(u.lastActivityAt)]),
    h('h3', {}, 'Deactivations in the period'),
    details([
      ['Inactivity', r.deactivations.INACTIVITY ?? 0],
      ['By an admin', r.deactivations.ADMIN ?? 0],
      ['Account expired', r.deactivations.EXPIRED ?? 0],
    ]),
    table('Reactivations in the period', ['User', 'When', 'Approval reference', 'Approved by'], r.reactivations, (x) => [
      userLink(x), when(x.reactivatedAt), x.approvalReference, x.approvedBy]),
  ];
}

// table is a titled table of items, the first cell of each row its header;
// or a sentence when there are none.
function table(title, columns, items, cells) {
  if (!items.length) return [h('h3', {}, title), h('p', { class: 'muted' }, 'None.')];
  return [h('h3', {}, title), h('div', { class: 'scroll' }, h('table', { class: 'list' }, h('caption', { class: 'sr-only' }, title),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, items.map((item) => {
      const [first, ...rest] = cells(item);
      return h('tr', {}, h('th', { scope: 'row' }, first), rest.map((c) => h('td', {}, c)));
    }))))];
}

function userLink(u) {
  return h('a', { href: `#/users/${encodeURIComponent(u.userId)}` }, u.username);
}
