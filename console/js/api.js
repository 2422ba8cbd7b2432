// The REST API (openapi.yaml), called with the signed-in user's ID token.
// Every failure becomes an ApiError whose message is a sentence for a
// person: the API's own error.message where it gave one, never raw JSON.
// The token travels only in the Authorization header, never in a URL: a
// file (the report as CSV) is fetched here and handed over as a Blob.

import { sentence } from './dom.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let base = '';
let token = () => '';
let expired = () => {};

// configure says where the API is, how to get the token, and what to do
// when the API no longer accepts it (401: back to the sign-in).
export function configure(apiUrl, getToken, onExpired) {
  base = apiUrl.replace(/\/+$/, '');
  token = getToken;
  expired = onExpired;
}

const fallback = {
  400: 'The request was refused.',
  403: 'You are not allowed to do this.',
  404: 'Not found.',
  409: 'This changed meanwhile, or is not in a state that allows this.',
  413: 'That is too large to send.',
  422: 'The request was refused.',
  429: 'Too many requests. Please wait a moment and try again.',
};

// call answers the response's JSON, or with accept (a media type other than
// JSON) its body as a Blob.
async function call(method, path, body, accept) {
  const init = { method, headers: { Authorization: token() }, credentials: 'omit', cache: 'no-store' };
  if (accept) init.headers.Accept = accept;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(base + path, init);
  } catch {
    throw new ApiError(0, 'The API could not be reached. Check the connection and try again.');
  }
  if (accept && resp.ok) return resp.blob();
  let data = null;
  try {
    data = await resp.json();
  } catch {
    // Not JSON: the status says enough.
  }
  if (resp.status === 401) {
    expired();
    throw new ApiError(401, 'Your session has ended. Please sign in again.');
  }
  if (!resp.ok) {
    const message = data?.error?.message;
    throw new ApiError(resp.status, typeof message === 'string' && message.trim() ? sentence(message)
      : fallback[resp.status] ?? 'The service is unavailable. Please try again later.');
  }
  return data;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

const seg = encodeURIComponent;

export const api = {
  users: ({ q, status, cursor }) => call('GET', '/users' + query({ q, status, cursor, limit: '25' })),
  user: (userId) => call('GET', `/users/${seg(userId)}`),
  audit: (userId, cursor) => call('GET', `/users/${seg(userId)}/audit` + query({ cursor })),
  activate: (userId, body) => call('POST', `/users/${seg(userId)}/activate`, body),
  deactivate: (userId, body) => call('POST', `/users/${seg(userId)}/deactivate`, body),
  lookup: (text) => call('GET', '/users/lookup' + query({ q: text, limit: '10' })),
  queue: (cursor) => call('GET', '/records' + query({ needsReassignment: 'true', cursor })),
  putRecord: (recordId, body) => call('PUT', `/records/${seg(recordId)}`, body),
  verify: (userId) => call('GET', `/users/${seg(userId)}/audit/verify`),
  setExpiry: (userId, body) => call('POST', `/users/${seg(userId)}/expiry`, body),
  runs: ({ kind, cursor }) => call('GET', '/runs' + query({ kind, cursor, limit: '25' })),
  releases: (since) => call('GET', '/audit' + query({ operation: 'SweepReleased', from: since })),
  release: (body) => call('POST', '/sweeps/release', body),
  sync: () => call('POST', '/sync'),
  report: (period) => call('GET', '/reports/compliance' + query(period)),
  reportCSV: (period) => call('GET', '/reports/compliance' + query(period), undefined, 'text/csv'),
};
