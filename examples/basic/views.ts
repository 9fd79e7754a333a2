import type { CernUser } from 'express-cern-sso';
import type { LocalAccount } from './accounts.js';

const escape = (text: string | number | undefined): string =>
  String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page frame shared by every page of the demo. */
export function layout(title: string, user: CernUser | undefined, content: string): string {
  const account = user
    ? `<span class="who">${escape(user.displayName ?? user.login)}</span>
       <form method="post" action="/logout"><button class="link">Log out</button></form>`
    : `<a class="button" href="/login">Log in with CERN</a>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · express-cern-sso demo</title>
<link rel="icon" href="data:,">
<style>
  :root { --cern: #0033a0; --bg: #f4f6f9; --ink: #1c2733; --muted: #5b6b7c; }
  * { box-sizing: border-box; }
  body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--ink); }
  header { background: var(--cern); color: #fff; padding: .5rem 1.5rem; min-height: 3.5rem; display: flex;
    flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; }
  header a.brand { color: #fff; font-weight: 600; text-decoration: none; font-size: 1.1rem; white-space: nowrap; }
  header nav { display: flex; flex-wrap: wrap; gap: .3rem 1rem; flex: 1; }
  header nav a { color: #dfe6f5; text-decoration: none; white-space: nowrap; }
  header nav a:hover { color: #fff; text-decoration: underline; }
  header .account { display: flex; align-items: center; gap: .8rem; margin-left: auto; min-width: 0; }
  header form { margin: 0; }
  .who { font-weight: 500; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  main { max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  main a:not(.button) { color: var(--cern); }
  .card { background: #fff; border-radius: 10px; box-shadow: 0 2px 12px #0001; padding: 1.5rem 2rem; margin-bottom: 1.5rem; }
  h1 { font-size: 1.5rem; margin-top: 0; }
  dl { display: grid; grid-template-columns: 10rem 1fr; gap: .5rem 1rem; margin: 0; }
  dt { color: var(--muted); }
  dd { margin: 0; font-weight: 500; overflow-wrap: anywhere; }
  .button, button { background: #fff; color: var(--cern); border: 0; border-radius: 6px; padding: .45rem 1rem;
    font: inherit; font-weight: 600; cursor: pointer; text-decoration: none; white-space: nowrap; display: inline-block; }
  main .button, main button { background: var(--cern); color: #fff; }
  button.link { background: transparent; color: #fff; padding: 0; font-weight: 400; text-decoration: underline; }
  .button:hover, button:hover { filter: brightness(.92); }
  button.link:hover { filter: none; text-decoration-thickness: 2px; }
  .tag { display: inline-block; background: #e6ecf8; color: var(--cern); border-radius: 999px; padding: .1rem .6rem; margin: 0 .3rem .3rem 0; font-size: .9rem; }
  .muted { color: var(--muted); }
  input[type=search] { width: 100%; padding: .6rem .8rem; font: inherit; border: 1px solid #c8d1dc; border-radius: 6px; }
  ul.results { list-style: none; padding: 0; } ul.results li { padding: .4rem 0; border-bottom: 1px solid #eef1f5; }
  @media (max-width: 40rem) {
    header { padding: .5rem 1rem; }
    header nav { order: 3; flex-basis: 100%; }
    main { margin: 1rem auto; }
    .card { padding: 1.25rem; }
    dl { grid-template-columns: 1fr; gap: 0; }
    dt { font-size: .9rem; margin-top: .6rem; }
    dt:first-child { margin-top: 0; }
  }
</style></head>
<body>
<header><a class="brand" href="/">CERN demo app</a>
  <nav><a href="/profile">Profile</a><a href="/admin">Admins only</a><a href="/directory">Directory</a></nav>
  <div class="account">${account}</div></header>
<main>${content}</main>
</body></html>`;
}

export function homePage(user: CernUser | undefined): string {
  const body = user
    ? `<div class="card"><h1>Welcome, ${escape(user.firstName ?? user.login)}</h1>
        <p>You are signed in with CERN single sign-on. See your <a href="/profile">profile</a>.</p></div>`
    : `<div class="card"><h1>express-cern-sso demo</h1>
        <p>This page is public. Sign in with your CERN account to see your profile.</p>
        <p><a class="button" href="/login?returnTo=%2Fprofile">Log in with CERN</a></p></div>`;
  return layout('Home', user, body);
}

export function profilePage(user: CernUser, groups?: readonly string[], account?: LocalAccount): string {
  const groupTags =
    groups === undefined
      ? '<span class="muted">unavailable right now</span>'
      : groups.length > 0
        ? groups.map((g) => `<span class="tag">${escape(g)}</span>`).join('')
        : '<span class="muted">none</span>';
  const roles =
    user.roles.length > 0
      ? user.roles.map((r) => `<span class="tag">${escape(r)}</span>`).join('')
      : '<span class="muted">none</span>';
  const row = (label: string, value: string | number | undefined) =>
    `<dt>${label}</dt><dd>${value === undefined ? '<span class="muted">—</span>' : escape(value)}</dd>`;
  return layout(
    'Profile',
    user,
    `<div class="card"><h1>${escape(user.displayName ?? user.login)}</h1><dl>
      ${row('Name', user.displayName)}
      ${row('Login', user.login)}
      ${row('Email', user.email)}
      ${row('Person ID', user.personId)}
      ${row('Language', user.preferredLanguage)}
      <dt>Roles</dt><dd>${roles}</dd>
      <dt>E-groups</dt><dd>${groupTags}</dd>
    </dl></div>
    <div class="card"><h2>Local account</h2>${
      account === undefined
        ? '<p class="muted">none</p>'
        : `<p>Created by <code>onLogin</code> at your first sign-in: account
      <strong id="account-id">#${account.id}</strong>, created ${escape(account.createdAt.toISOString())},
      <span id="sign-ins">${account.signIns}</span> sign-in(s), the last at
      ${escape(account.lastSignInAt.toISOString())}.</p>`
    }</div>`,
  );
}

export function adminPage(
  user: CernUser,
  group: string,
  groups: readonly string[],
  maxAgeSec: number,
): string {
  const tags = groups.map((g) => `<span class="tag">${escape(g)}</span>`).join('');
  return layout(
    'Admins only',
    user,
    `<div class="card"><h1>Admins only</h1>
      <p>Only members of the e-group <strong>${escape(group)}</strong> see this page, guarded by
      <code>requireGroup('${escape(group)}')</code>, and only with a recent sign-in: a step-up,
      <code>requireAuth({ maxAgeSec: ${maxAgeSec} })</code>, sends an older sign-in through the
      CERN login again.</p>
      <h2>Your e-groups</h2><p>${tags || '<span class="muted">none</span>'}</p></div>`,
  );
}

/** A people search box: the browser calls `/api/users?q=`, served by `userSearchHandler()`. */
export function directoryPage(user: CernUser): string {
  return layout(
    'Directory',
    user,
    `<div class="card"><h1>CERN directory</h1>
      <label for="q" class="muted">Search people by login, name or email (3 characters or more)</label>
      <input id="q" type="search" autocomplete="off" placeholder="e.g. doe" autofocus>
      <p id="status" class="muted" aria-live="polite"></p>
      <ul id="results" class="results"></ul></div>
<script>
  const input = document.getElementById('q');
  const results = document.getElementById('results');
  const status = document.getElementById('status');
  let timer;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, 250);
  });
  async function search() {
    const q = input.value.trim();
    results.replaceChildren();
    if (q.length < 3) { status.textContent = ''; return; }
    status.textContent = 'Searching…';
    const response = await fetch('/api/users?q=' + encodeURIComponent(q), { headers: { accept: 'application/json' } });
    const body = await response.json();
    if (!response.ok) { status.textContent = body.error_description || 'Search failed'; return; }
    status.textContent = body.users.length === 0 ? 'No match.' : body.users.length + ' match(es)';
    for (const person of body.users) {
      const item = document.createElement('li');
      const name = document.createElement('strong');
      name.textContent = person.displayName || person.login;
      const details = document.createElement('span');
      details.className = 'muted';
      details.textContent = ' ' + person.login + (person.email ? ' · ' + person.email : '') + (person.phone ? ' · ' + person.phone : '');
      item.append(name, details);
      results.append(item);
    }
  }
</script>`,
  );
}
