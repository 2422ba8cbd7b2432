// Activate User and Deactivate User: the buttons, shown only where the API
// lists the action in the user's `actions` (so only to admins, and only for
// a user in the state the action needs), and the dialogs that ask for the
// approval or the reason before anything changes. The approval's dialog
// serves the release of a held sweep too (evidence.js).

import { api } from './api.js';
import { h, alert, field } from './dom.js';

// actionButtons are the buttons the API allows for user. done(updated,
// message) is called with the user as the API returned it after a change.
// describedBy names an element that says whose buttons these are (the row's
// user name), for a screen reader moving from button to button.
export function actionButtons(user, done, describedBy) {
  const out = [];
  if (user.actions?.includes('activate')) {
    out.push(h('button', { type: 'button', 'aria-describedby': describedBy, onclick: () => openActivate(user, done) }, 'Activate User'));
  }
  if (user.actions?.includes('deactivate')) {
    out.push(h('button', { type: 'button', class: 'danger', 'aria-describedby': describedBy, onclick: () => openDeactivate(user, done) }, 'Deactivate User'));
  }
  return out;
}

function openActivate(user, done) {
  openApproval({
    title: `Activate ${user.username}`,
    intro: 'A deactivated account is switched back on only with a recorded Business Head approval.',
    submit: 'Activate',
    act: (approval) => api.activate(user.userId, approval),
    done: (u) => done(u, `${u.username} is active again (Active Status ${u.activeStatus}).`),
  });
}

// openApproval asks for a Business Head's approval (its reference, who gave
// it, a comment) before act(approval) changes anything: activating a user,
// and releasing a held sweep, which the API holds to the same rules.
export function openApproval({ title, intro, submit, act, done }) {
  const ref = h('input', { type: 'text', required: true, maxlength: 1000, autocomplete: 'off' });
  const by = h('input', { type: 'text', required: true, maxlength: 1000, autocomplete: 'off' });
  const comment = h('textarea', { rows: 3, maxlength: 1000 });
  openDialog({
    title,
    intro,
    fields: [
      field('approval-reference', 'Approval reference', ref, 'The approval’s reference, e.g. BH-2027-001.'),
      field('approved-by', 'Approved by', by, 'The Business Head who approved; not you.'),
      field('approval-comment', 'Comment', comment, 'Optional.'),
    ],
    submit,
    act: () => act({ approvalReference: ref.value.trim(), approvedBy: by.value.trim(), comment: comment.value.trim() || undefined }),
    done,
  });
}

function openDeactivate(user, done) {
  const reason = h('textarea', { rows: 3, required: true, maxlength: 1000 });
  openDialog({
    title: `Deactivate ${user.username}`,
    intro: 'The account is switched off at once and its sessions are signed out. Open records it holds go to the reassignment queue.',
    fields: [field('deactivate-reason', 'Reason', reason, 'Why, for the audit trail.')],
    submit: 'Deactivate',
    danger: true,
    act: () => api.deactivate(user.userId, { reason: reason.value.trim() }),
    done: (u) => done(u, `${u.username} is deactivated (Active Status ${u.activeStatus}).`),
  });
}

// openDialog shows a modal <dialog> with a form. Escape or Cancel closes it
// without a change; a refusal is shown inside it, in words, and the dialog
// stays open for a correction.
function openDialog({ title, intro, fields, submit, danger, act, done }) {
  const errors = h('div');
  const button = h('button', { type: 'submit', class: danger ? 'danger' : null }, submit);
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel');
  const form = h('form', { class: 'stack' }, fields, h('div', { class: 'buttons' }, button, cancel));
  const dialog = h('dialog', { 'aria-labelledby': 'dialog-title', onclose: () => dialog.remove() },
    h('h2', { id: 'dialog-title' }, title), h('p', { class: 'muted' }, intro), errors, form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const updated = await act();
      dialog.close();
      done(updated);
    } catch (err) {
      if (err.status === 401) dialog.close();
      else alert(errors, err.message);
    } finally {
      button.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  document.body.append(dialog);
  dialog.showModal();
}
