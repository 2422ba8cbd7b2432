// A user's page: the account, its latest deactivation and reactivation
// (when, who, why, the threshold, the approval), its expiry if any, and the
// audit timeline.

import { api } from './api.js';
import { h, heading, when, alert, status, details, statusBadge, creationSources } from './dom.js';
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
  render(user);
  loadAudit(timeline, userId);

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

  function changed(updated, message) {
    render(updated);
    status(live, message);
    loadAudit(timeline, userId);
    (account.querySelector('.buttons button') ?? main.querySelector('h1')).focus();
  }
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

async function loadAudit(section, userId) {
  const list = h('ol', { class: 'timeline' });
  const errors = h('div');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More');
  section.replaceChildren(h('h2', { id: 'audit-title' }, 'Audit timeline'), errors, list, more);
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
