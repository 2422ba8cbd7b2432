// Building the page from data. Elements get their text as text nodes, never
// from markup, so nothing the API returns is ever parsed as HTML.

// h makes an element: h('button', {type: 'button', onclick: f}, 'Save').
// A prop named on… adds a listener; true sets an empty attribute; null,
// undefined and false leave the attribute out.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

// sentence turns an API message into a sentence: a first word in lower case
// gets a capital ("your account is deactivated" → "Your account …"), a
// camelCase field name keeps its spelling, and a full stop ends it.
export function sentence(text) {
  let s = String(text ?? '').trim();
  if (!s) return '';
  if (/^[a-z]+\b/.test(s)) s = s[0].toUpperCase() + s.slice(1);
  if (!/[.!?…]$/.test(s)) s += '.';
  return s;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

// when shows an RFC 3339 time in the reader's time zone, machine-readable
// in <time datetime>.
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : h('time', { datetime: iso }, dateTime.format(d));
}

// details is a <dl> of the pairs whose value is present.
export function details(pairs) {
  const dl = h('dl', { class: 'details' });
  for (const [term, value] of pairs) {
    if (value == null || value === '') continue;
    dl.append(h('dt', {}, term), h('dd', {}, value));
  }
  return dl;
}

// alert puts a message where it is read out at once (role=alert); a new
// element each time, so that a repeated message is announced again.
export function alert(box, message) {
  box.replaceChildren(message ? h('p', { role: 'alert', class: 'error' }, message) : '');
}

// status says something that went well in a polite live region.
export function status(box, message) {
  box.textContent = message;
}

// field is a labelled control with an optional hint read after the label.
export function field(id, label, control, hint) {
  control.id = id;
  const parts = [h('label', { for: id }, label)];
  if (hint) {
    control.setAttribute('aria-describedby', id + '-hint');
    parts.push(h('span', { id: id + '-hint', class: 'hint' }, hint));
  }
  return h('div', { class: 'field' }, parts, control);
}

// heading sets the document's title and returns the view's heading,
// focusable so that navigation can move focus (and a screen reader) to it.
export function heading(text) {
  document.title = `${text} · Dormancy`;
  return h('h1', { tabindex: -1 }, text);
}

export const creationSources = {
  SelfRegistration: 'Self-registration',
  AdminCreated: 'Created by an admin',
  Import: 'Import',
  FirstLogin: 'First sign-in',
  '': 'Before Dormancy',
};

export function statusBadge(activeStatus) {
  return h('span', { class: activeStatus === 'Yes' ? 'badge yes' : 'badge no' }, activeStatus);
}
