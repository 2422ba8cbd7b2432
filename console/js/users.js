// The users list: Active Status, search, a status filter, and paging with
// the API's cursor. The search and filter live in the address
// (#/users?q=alice&status=No), so Back returns to the same list.

import { api } from './api.js';
import { h, heading, when, alert, status, statusBadge, creationSources } from './dom.js';
import { actionButtons } from './actions.js';

export function usersView(main, params) {
  const q = params.get('q') ?? '';
  const filter = params.get('status') ?? '';
  const search = h('input', { type: 'search', name: 'q', value: q, maxlength: 128, autocomplete: 'off', spellcheck: 'false' });
  search.id = 'user-search';
  const select = h('select', { id: 'user-status', name: 'status' },
    [['', 'Any'], ['Yes', 'Yes (active)'], ['No', 'No (deactivated)']].map(([value, text]) =>
      h('option', { value, selected: value === filter }, text)));
  const form = h('form', { role: 'search', class: 'filters', 'aria-label': 'Users' },
    h('div', { class: 'field' }, h('label', { for: 'user-search' }, 'Search'), search),
    h('div', { class: 'field' }, h('label', { for: 'user-status' }, 'Status'), select),
    h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    if (search.value.trim()) next.set('q', search.value.trim());
    if (select.value) next.set('status', select.value);
    const hash = '#/users' + (next.toString() ? `?${next}` : '');
    if (location.hash === hash) load(''); else location.hash = hash;
  });

  const tbody = h('tbody');
  const table = h('table', { class: 'list' },
    h('caption', { class: 'sr-only' }, 'Users, newest activity first'),
    h('thead', {}, h('tr', {}, ['User name', 'Active Status', 'Groups', 'Last activity', 'Creation source', 'Actions']
      .map((t) => h('th', { scope: 'col' }, t)))),
    tbody);
  const errors = h('div');
  const live = h('p', { role: 'status', class: 'live' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More');
  const summary = h('p', { class: 'muted' });
  main.replaceChildren(heading('Users'), form, errors, live, h('div', { class: 'scroll' }, table), summary, more);

  let cursor = '';
  let shown = 0;
  async function load(from) {
    more.disabled = true;
    table.setAttribute('aria-busy', 'true');
    try {
      const page = await api.users({ q, status: filter, cursor: from });
      if (!from) {
        tbody.replaceChildren();
        shown = 0;
      }
      for (const u of page.users) tbody.append(row(u));
      shown += page.users.length;
      cursor = page.cursor;
      more.hidden = !cursor;
      // A search page may hold fewer users than asked, even none, and still
      // have a cursor: the rest of the table is not searched yet.
      summary.textContent = cursor
        ? `${count(shown)} so far. More may match: choose More to look further.`
        : shown ? `${count(shown)}.` : 'No users match.';
      alert(errors, '');
    } catch (err) {
      alert(errors, err.message);
    } finally {
      more.disabled = false;
      table.removeAttribute('aria-busy');
    }
  }
  more.addEventListener('click', () => load(cursor));

  function row(u) {
    const nameID = `user-${u.userId}`;
    const tr = h('tr', {},
      h('th', { scope: 'row' }, h('a', { id: nameID, href: `#/users/${encodeURIComponent(u.userId)}` }, u.username)),
      h('td', {}, statusBadge(u.activeStatus)),
      h('td', {}, u.groups?.length ? u.groups.join(', ') : '—'),
      h('td', {}, when(u.lastActivityAt)),
      h('td', {}, creationSources[u.creationSource] ?? u.creationSource),
      h('td', { class: 'actions' }, actionButtons(u, changed, nameID)));
    // After a change the row shows the user as the API returned them, at
    // once, and focus goes to what the row now offers.
    function changed(updated, message) {
      const next = row(updated);
      tr.replaceWith(next);
      status(live, message);
      (next.querySelector('td.actions button') ?? next.querySelector('a')).focus();
    }
    return tr;
  }

  load('');
}

const count = (n) => (n === 1 ? '1 user' : `${n} users`);
