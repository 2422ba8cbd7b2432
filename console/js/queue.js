// The reassignment queue: open records whose user was deactivated, one row
// per field waiting for a new user. Each is assigned with the active-users
// picker (GET /users/lookup, which returns only ACTIVE users) and saved with
// PUT /records/{id} at the version read, so a record changed meanwhile is
// refused (409) rather than overwritten.

import { api } from './api.js';
import { h, heading, alert, status } from './dom.js';

export function queueView(main) {
  const tbody = h('tbody');
  const table = h('table', { class: 'list' },
    h('caption', { class: 'sr-only' }, 'Fields waiting for a new user'),
    h('thead', {}, h('tr', {}, ['Record', 'Module', 'Status', 'Field', 'New user'].map((t) => h('th', { scope: 'col' }, t)))),
    tbody);
  const errors = h('div');
  const live = h('p', { role: 'status', class: 'live' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More');
  const summary = h('p', { class: 'muted' });
  main.replaceChildren(heading('Reassignment queue'),
    h('p', {}, 'Open records lose a user when that user is deactivated. Give each field below to an active user.'),
    errors, live, h('div', { class: 'scroll' }, table), summary, more);

  let cursor = '';
  let rows = 0;
  async function load(from) {
    more.disabled = true;
    try {
      const page = await api.queue(from);
      for (const r of page.records) {
        for (const f of r.needsReassignment) {
          tbody.append(row(r, f));
          rows++;
        }
      }
      cursor = page.cursor;
      more.hidden = !cursor;
      summary.textContent = rows ? '' : cursor ? 'Nothing waiting so far. Choose More to look further.' : 'Nothing is waiting for a new user.';
    } catch (err) {
      alert(errors, err.message);
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', () => load(cursor));

  // row is one field of record; rows of the same record share the record
  // object, so a save updates the version the next save sends.
  function row(record, name) {
    const id = `assign-${record.recordId}-${name}`;
    const picker = h('input', { type: 'text', id, list: `${id}-options`, autocomplete: 'off', spellcheck: 'false', required: true });
    const options = h('datalist', { id: `${id}-options` });
    const save = h('button', { type: 'submit' }, 'Save');
    const errorsHere = h('div');
    const found = new Map(); // user name (lower case) → userId, from the last look-up
    let timer;
    picker.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => suggest(picker.value.trim()), 200);
    });
    async function suggest(text) {
      if (!text) return;
      try {
        const { users } = await api.lookup(text);
        options.replaceChildren(...users.map((u) => h('option', { value: u.username })));
        for (const u of users) found.set(u.username.toLowerCase(), u.userId);
      } catch {
        // Suggestions are a help; saving looks the name up again.
      }
    }
    const form = h('form', { class: 'inline' },
      h('label', { for: id, class: 'sr-only' }, `New user for ${name} of ${record.recordId}`), picker, options, save, errorsHere);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const wanted = picker.value.trim();
      save.disabled = true;
      try {
        const userId = found.get(wanted.toLowerCase()) ?? (await exact(wanted));
        if (!userId) {
          alert(errorsHere, `No active user is named “${wanted}”.`);
          return;
        }
        const saved = await api.putRecord(record.recordId, {
          module: record.module, status: record.status, fields: { ...record.fields, [name]: userId }, version: record.version,
        });
        Object.assign(record, saved);
        form.replaceWith(h('span', {}, `Assigned to ${wanted}`));
        status(live, `${record.recordId}: ${name} is now ${wanted}.`);
      } catch (err) {
        alert(errorsHere, err.message);
      } finally {
        save.disabled = false;
      }
    });
    return h('tr', {},
      h('th', { scope: 'row' }, record.recordId),
      h('td', {}, record.module),
      h('td', {}, record.status),
      h('td', {}, name),
      h('td', {}, form));
  }

  load('');
}

// exact finds the active user with exactly this name (any letter case).
async function exact(name) {
  const { users } = await api.lookup(name);
  return users.find((u) => u.username.toLowerCase() === name.toLowerCase())?.userId;
}
