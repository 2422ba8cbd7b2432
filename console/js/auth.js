// Signing in and out. The ID token is kept in sessionStorage (never in a
// cookie): a reload keeps the session, closing the tab ends it, and Sign
// out forgets it.
//
// config.json says how: {"mode":"local","signInUrl":…} on make dev, where
// the console posts the user name and password to the local stack's sign-in
// (the same login-hook checks as Cognito's); {"mode":"cognito","domain",
// "clientId","redirectUri"} on AWS, where the pool's managed login signs the
// user in and the console exchanges the code (authorization code with PKCE,
// no client secret).

import { sentence } from './dom.js';

const SESSION = 'dormancy.session';
const PENDING = 'dormancy.signin';

let session = restore();

function restore() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION));
    if (s && s.idToken && s.expiresAt > Date.now()) return s;
  } catch {
    // Nothing usable stored.
  }
  sessionStorage.removeItem(SESSION);
  return null;
}

// current is the signed-in user ({idToken, username, userId, expiresAt}), or
// null.
export function current() {
  if (session && session.expiresAt <= Date.now()) forget();
  return session;
}

export function idToken() {
  return current()?.idToken ?? '';
}

export function forget() {
  session = null;
  sessionStorage.removeItem(SESSION);
}

function keep(idToken) {
  const c = claims(idToken);
  session = { idToken, username: c['cognito:username'] ?? c.sub, userId: c.sub, expiresAt: c.exp * 1000 };
  sessionStorage.setItem(SESSION, JSON.stringify(session));
}

function claims(jwt) {
  const b64 = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  const bytes = Uint8Array.from(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, '=')), (ch) => ch.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// signInLocal signs in on the local stack. A refusal is thrown in the login
// hook's words ("Account deactivated due to 45 days of inactivity. Please
// contact Admin."), without Cognito's "PreAuthentication failed with error".
export async function signInLocal(config, username, password) {
  let resp;
  try {
    resp = await fetch(config.signInUrl, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }), cache: 'no-store',
    });
  } catch {
    throw new Error('The sign-in could not be reached. Is make dev running?');
  }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok || typeof data.idToken !== 'string') {
    const said = typeof data.error === 'string' ? data.error.replace(/^\w+ failed with error /, '') : '';
    throw new Error(sentence(said) || 'The sign-in failed. Please try again.');
  }
  keep(data.idToken);
}

const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

// beginManagedLogin sends the browser to the pool's managed login with a
// PKCE challenge; the verifier and state wait in sessionStorage.
export async function beginManagedLogin(config) {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state }));
  const url = new URL('/oauth2/authorize', config.domain);
  url.search = new URLSearchParams({
    response_type: 'code', client_id: config.clientId, redirect_uri: config.redirectUri,
    scope: 'openid email', state, code_challenge: b64url(new Uint8Array(digest)), code_challenge_method: 'S256',
  });
  location.assign(url);
}

// finishManagedLogin completes a sign-in the managed login sent back
// (?code=…&state=…), if this page load is one. It takes the code out of the
// address bar first, so that it is neither bookmarked nor reused.
export async function finishManagedLogin(config) {
  const params = new URLSearchParams(location.search);
  if (!params.has('code') && !params.has('error')) return;
  history.replaceState(null, '', location.pathname + location.hash);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null');
  sessionStorage.removeItem(PENDING);
  if (params.has('error')) throw new Error(sentence(params.get('error_description') || 'The sign-in was cancelled.'));
  if (!pending || pending.state !== params.get('state')) throw new Error('This sign-in could not be verified. Please sign in again.');
  let data = {};
  try {
    const resp = await fetch(new URL('/oauth2/token', config.domain), {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, cache: 'no-store',
      body: new URLSearchParams({
        grant_type: 'authorization_code', client_id: config.clientId, code: params.get('code'),
        redirect_uri: config.redirectUri, code_verifier: pending.verifier,
      }),
    });
    data = await resp.json();
  } catch {
    // Reported below.
  }
  if (typeof data.id_token !== 'string') throw new Error('The sign-in could not be completed. Please sign in again.');
  keep(data.id_token);
}

// signOut forgets the tokens; on AWS it also ends the managed login's
// session, which would otherwise sign the same user straight back in. It
// returns true when the browser is leaving the page.
export function signOut(config) {
  forget();
  if (config.mode !== 'cognito') return false;
  const url = new URL('/logout', config.domain);
  url.search = new URLSearchParams({ client_id: config.clientId, logout_uri: config.redirectUri });
  location.assign(url);
  return true;
}
