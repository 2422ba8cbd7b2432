// Runs and the compliance report (spec §14): the places for them. The API
// does not serve GET /runs or GET /reports/compliance yet, so nothing here
// calls it; each section names the route it will show, and gets a render
// function when the route exists.

import { h, heading } from './dom.js';

const sections = [
  {
    id: 'runs',
    title: 'Sweep and sync runs',
    route: 'GET /runs',
    what: 'Every sweep and pool sync, newest first: when it ran, the policy in force, what it did, and whether it was held.',
    render: null,
  },
  {
    id: 'compliance',
    title: 'Compliance report',
    route: 'GET /reports/compliance',
    what: 'The evidence an auditor asks for (CIS 5.3, PCI DSS 8.2.6, NIST AC-2(3)) over a period, also as CSV.',
    render: null,
  },
];

export function evidenceView(main) {
  main.replaceChildren(heading('Runs and compliance'), ...sections.map((s) => {
    const section = h('section', { 'aria-labelledby': `${s.id}-title` }, h('h2', { id: `${s.id}-title` }, s.title), h('p', {}, s.what));
    if (s.render) s.render(section);
    else section.append(h('p', { class: 'muted' }, `Not available yet: the API does not offer ${s.route} yet.`));
    return section;
  }));
}
