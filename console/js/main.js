// The console's entry point: reads config.json, completes a sign-in that is
// coming back, and shows the view the address names (#/users,
// #/users/{userId}, #/queue, #/evidence), or the sign-in.

import * as auth from './auth.js';
import { configure } from './api.js';
import { h, heading, alert } from './dom.js';
import { usersView } from './users.js';
import { userView } from './user.js';
import { queueView } from './queue.js';
import { evidenceView } from './evidence.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const sessionBox = document.getElementById('session');
let config;
let rendered = false;

async function start() {
  try {
    config = await readConfig();
  } catch (err) {
    const box = h('div');
    main.replaceChildren(heading('Dormancy'), box);
    alert(box, err.message);
    return;
  }
  configure(config.apiUrl, auth.idToken, () => {
    auth.forget();
    signInView('Your session has ended. Please sign in again.');
  });
  let notice = '';
  if (config.mode === 'cognito') {
    try {
      await auth.finishManagedLogin(config);
    } catch (err) {
      notice = err.message;
    }
  }
  document.getElementById('signout').addEventListener('click', () => {
    if (!auth.signOut(config)) signInView('You are signed out.');
  });
  addEventListener('hashchange', () => route());
  if (notice) signInView(notice);
  else route();
}

async function readConfig() {
  let c;
  try {
    const resp = await fetch('config.json', { cache: 'no-store' });
    c = await resp.json();
  } catch {
    throw new Error('The console’s settings (config.json) could not be read.');
  }
  const ok = typeof c.apiUrl === 'string' && (c.mode === 'local' ? typeof c.signInUrl === 'string'
    : c.mode === 'cognito' && ['domain', 'clientId', 'redirectUri'].every((k) => typeof c[k] === 'string'));
  if (!ok) throw new Error('The console’s settings (config.json) are incomplete.');
  return c;
}

function route() {
  const who = auth.current();
  if (!who) return signInView();
  nav.hidden = false;
  sessionBox.hidden = false;
  document.getElementById('whoami').textContent = `Signed in as ${who.username}`;
  document.getElementById('nav-self').setAttribute('href', `#/users/${encodeURIComponent(who.userId)}`);
  const [path, query] = (location.hash || '#/users').split('?');
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const user = path.match(/^#\/users\/([^/]+)$/);
  if (user) userView(main, decodeURIComponent(user[1]));
  else if (path === '#/queue') queueView(main);
  else if (path === '#/evidence') evidenceView(main);
  else usersView(main, new URLSearchParams(query));
  // After a navigation, focus goes to the new view's heading, so that a
  // screen reader starts reading there (not on the first load).
  if (rendered) main.querySelector('h1')?.focus();
  rendered = true;
}

function signInView(message) {
  nav.hidden = true;
  sessionBox.hidden = true;
  const errors = h('div');
  if (config.mode === 'cognito') {
    const button = h('button', {
      type: 'button',
      onclick: () => auth.beginManagedLogin(config).catch(() => alert(errors, 'The sign-in could not start in this browser.')),
    }, 'Sign in');
    main.replaceChildren(heading('Sign in'), errors,
      h('p', {}, 'You sign in on the user pool’s sign-in page, and come back here.'), button);
  } else {
    const username = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
    const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const button = h('button', { type: 'submit' }, 'Sign in');
    const form = h('form', { class: 'stack signin' },
      h('div', { class: 'field' }, h('label', { for: 'username' }, 'Username'), username),
      h('div', { class: 'field' }, h('label', { for: 'password' }, 'Password'), password),
      h('div', { class: 'buttons' }, button));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      button.disabled = true;
      form.setAttribute('aria-busy', 'true');
      try {
        await auth.signInLocal(config, username.value.trim(), password.value);
        rendered = true; // focus goes to the first view's heading
        route();
      } catch (err) {
        password.value = '';
        alert(errors, err.message);
      } finally {
        button.disabled = false;
        form.removeAttribute('aria-busy');
      }
    });
    main.replaceChildren(heading('Sign in'), errors, form,
      h('p', { class: 'muted' }, 'Local stack: the users of the local pool (make dev SEED=1 creates some).'));
  }
  if (message) alert(errors, message);
}

start();
