// A user's page: the account, its latest deactivation and reactivation
// (when, who, why, the threshold, the approval), its expiry if any (which
// an admin sets or clears on an active account), and the audit timeline
// with the verdict on its hash chain (spec §9).

import { api } from './api.js';
import { h, heading, when, alert, status, details, field, statusBadge, creationSources } from './dom.js';
import { actionButtons } from './actions.js';

const reasons = { INACTIVITY: 'Inactivity', ADMIN: 'By an admin', EXPIRED: 'Account expired' };

const operations = {
  CreateUserAccount: 'Account created',
  EnableUserAccount: 'Account activated',
  DisableUserAccount: 'Account deactivated',
  RecordUserCleared: 'Cleared from a record',
  UserExpirySet: 'Expiry set',
  SweepHeld: 'Sweep held',
  SweepReleased: 'Sweep released',
};

export async function userView(main, userId) {
  main.replaceChildren(heading('User'), h('p', { class: 'muted' }, 'Loading…'));
  let user;
  try {
    user = await api.user(userId);
  } catch (err) {
    const errors = h('div');
    main.replaceChildren(heading('User'), errors, back());
    alert(errors, err.message);
    return;
  }
  const live = h('p', { role: 'status', class: 'live' });
  const account = h('section', { 'aria-labelledby': 'account-title' });
  const timeline = h('section', { 'aria-labelledby': 'audit-title' });
  main.replaceChildren(heading(user.username), back(), live, account, timeline);
  main.querySelector('h1').focus();
  // Only an admin is offered actions on a user (and may read the audit
  // trail and check its chain).
  const admin = user.actions.length > 0;
  render(user);
  loadAudit(timeline, userId, admin);

  function render(u) {
    account.replaceChildren(
      h('h2', { id: 'account-title', class: 'sr-only' }, 'Account'),
      details([
        ['Active Status', statusBadge(u.activeStatus)],
        ['User id', u.userId],
        ['Groups', u.groups?.length ? u.groups.join(', ') : '—'],
        ['E-mail', u.email],
        ['Creation source', creationSources[u.creationSource] ?? u.creationSource],
        ['Created', u.createdAt && when(u.createdAt)],
        ['Imported', u.importedAt && when(u.importedAt)],
        ['Last sign-in', u.lastLoginAt && when(u.lastLoginAt)],
        ['Last activity', when(u.lastActivityAt)],
        ['Expires', u.expiresAt && when(u.expiresAt)],
      ]),
      h('div', { class: 'buttons' }, actionButtons(u, changed)),
      u.actions.includes('deactivate') ? expiryForm(u, changed) : '',
      h('h2', {}, 'Deactivation'),
      u.deactivation ? details([
        ['When', when(u.deactivation.deactivatedAt)],
        ['By', u.deactivation.automaticDeactivation ? 'The sweep (automatic)' : who(u.deactivation.deactivatedBy)],
        ['Why', reasons[u.deactivation.deactivationReason] ?? u.deactivation.deactivationReason],
        ['Threshold', `${u.deactivation.thresholdDays} days`],
        ['Reason given', u.deactivation.reason],
      ]) : h('p', { class: 'muted' }, 'Never deactivated.'),
      h('h2', {}, 'Reactivation'),
      u.reactivation ? details([
        ['When', when(u.reactivation.reactivatedAt)],
        ['By', who(u.reactivation.reactivatedBy)],
        ['Approval reference', u.reactivation.approvalReference],
        ['Approved by', u.reactivation.approvedBy],
        ['Comment', u.reactivation.comment],
      ]) : h('p', { class: 'muted' }, 'Never reactivated.'));
  }

  // changed shows the user as a change left them; focus goes to what the
  // page now offers in place of the control that made the change.
  function changed(updated, message, focus = '.buttons button') {
    render(updated);
    status(live, message);
    loadAudit(timeline, userId, admin);
    (account.querySelector(focus) ?? main.querySelector('h1')).focus();
  }
}

// expiryForm sets or clears the end date of an active account. The date is
// a day: the account is switched off at its start, in UTC, the day the
// sign-in refusal names ("Account expired on 2027-01-01").
function expiryForm(u, changed) {
  const date = h('input', { type: 'date', required: true, value: u.expiresAt?.slice(0, 10) });
  const reason = h('input', { type: 'text', required: true, maxlength: 1000, autocomplete: 'off' });
  const errors = h('div');
  const set = h('button', { type: 'submit' }, 'Set expiry');
  const clear = u.expiresAt && h('button', { type: 'button', class: 'secondary' }, 'Clear expiry');
  const form = h('form', { class: 'filters expiry', 'aria-labelledby': 'expiry-title' },
    field('expiry-date', 'Expires on', date, 'The account is switched off at the start of this day (UTC).'),
    field('expiry-reason', 'Expiry reason', reason, 'Why, for the audit trail.'),
    set, clear);
  async function save(expiresAt, button) {
    button.disabled = true;
    try {
      const updated = await api.setExpiry(u.userId, { expiresAt, reason: reason.value.trim() });
      changed(updated, updated.expiresAt ? `${updated.username} expires on ${updated.expiresAt.slice(0, 10)} (UTC).`
        : `${updated.username} no longer expires.`, '#expiry-title');
    } catch (err) {
      alert(errors, err.message);
    } finally {
      button.disabled = false;
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    save(`${date.value}T00:00:00Z`, set);
  });
  clear?.addEventListener('click', () => {
    if (reason.reportValidity()) save(null, clear);
  });
  return h('div', {},
    h('h2', { id: 'expiry-title', tabindex: -1 }, 'Expiry'),
    h('p', { class: 'muted' }, u.expiresAt ? ['The account expires ', when(u.expiresAt), '.'] : 'No end date: the account does not expire.'),
    errors, form);
}

// who shows a user id (an admin's, in a deactivation, a reactivation or the
// audit trail) as the user's name, once the API has said it; the id stays
// where the name cannot be read.
const names = new Map();

function who(id) {
  if (id === 'system') return 'System';
  const el = h('span', {}, id);
  if (!names.has(id)) names.set(id, api.user(id).then((u) => u.username, () => null));
  names.get(id).then((name) => {
    if (name) el.textContent = name;
  });
  return el;
}

function back() {
  return h('p', {}, h('a', { href: '#/users' }, 'All users'));
}

async function loadAudit(section, userId, admin) {
  const list = h('ol', { class: 'timeline' });
  const errors = h('div');
  const chain = h('p', { hidden: !admin });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More');
  section.replaceChildren(h('h2', { id: 'audit-title' }, 'Audit timeline'), chain, errors, list, more);
  if (admin) verify(chain, userId);
  let cursor = '';
  async function page(from) {
    more.disabled = true;
    try {
      const p = await api.audit(userId, from);
      for (const e of p.entries) list.append(entry(e));
      if (!from && !p.entries.length && !p.cursor) list.replaceWith(h('p', { class: 'muted' }, 'No entries.'));
      cursor = p.cursor;
      more.hidden = !cursor;
    } catch (err) {
      alert(errors, err.message);
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => page(cursor));
  await page('');
}

// verify says whether the account's audit chain is intact, or where it
// first breaks.
async function verify(box, userId) {
  let v;
  try {
    v = await api.verify(userId);
  } catch (err) {
    box.textContent = `The audit trail could not be checked. ${err.message}`;
    return;
  }
  const n = v.entries === 1 ? '1 entry' : `${v.entries} entries`;
  if (v.intact) {
    box.className = 'chain intact';
    box.textContent = `Audit trail intact (${n}).` + (v.unchained ? ` ${v.unchained} of them predate the chain and are not covered by it.` : '');
    return;
  }
  const b = v.firstBroken ?? {};
  const problem = `${b.problem ?? 'an entry does not match its hash'}${/[.!?]$/.test(b.problem ?? '') ? '' : '.'}`;
  box.className = 'chain broken';
  box.replaceChildren(...(b.operation
    ? [`Audit trail broken at ${operations[b.operation] ?? b.operation} `, when(b.occurredAt), `: ${problem}`]
    : [`Audit trail broken: ${problem}`]));
}

function entry(e) {
  return h('li', {},
    h('p', { class: 'when' }, when(e.occurredAt), ' — ', h('strong', {}, operations[e.operation] ?? e.operation),
      e.isEnabled ? ' (enabled)' : ' (disabled)'),
    details([
      ['By', who(e.actor)],
      ['Source', e.source],
      ['Reason', e.reason],
      ['Threshold', e.thresholdDays && `${e.thresholdDays} days`],
      ['Approval reference', e.approvalReference],
      ['Approved by', e.approvedBy],
      ['Comment', e.comment],
      ['Record', e.recordId && `${e.recordId}${e.module ? ` (${e.module})` : ''}`],
      ['Field', e.field],
      ['Previous user', e.previousUsername || e.previousUserId],
    ]));
}
