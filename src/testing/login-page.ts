import type { Response } from 'express';
import { escapeHtml } from './http.js';

const TITLE = 'CERN Single Sign-On (emulator)';

/** Inline styles only: the pages load nothing else, so a strict CSP fits. */
const STYLE = `
  *{box-sizing:border-box}
  body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
    background:#eef1f6;color:#1b1f24}
  header{background:#0033a0;color:#fff;padding:14px 24px;display:flex;align-items:center;gap:12px}
  header .logo{width:34px;height:34px;border-radius:50%;border:2px solid #fff;display:flex;
    align-items:center;justify-content:center;font-weight:700;font-size:9px;letter-spacing:.3px}
  header h1{font-size:18px;font-weight:600;margin:0}
  main{max-width:420px;margin:48px auto;padding:0 16px}
  .card{background:#fff;border-radius:8px;box-shadow:0 2px 10px rgba(0,0,0,.08);padding:28px}
  .card h2{margin:0 0 6px;font-size:20px}
  .muted{color:#5b6470;font-size:14px;margin:0 0 18px}
  label{display:block;font-size:14px;font-weight:600;margin:14px 0 6px}
  input[type=text],input[type=password]{width:100%;padding:10px 12px;border:1px solid #b8c0cc;
    border-radius:4px;font-size:15px}
  input:focus{outline:2px solid #0033a0;outline-offset:1px}
  button{margin-top:22px;width:100%;padding:11px;border:0;border-radius:4px;background:#0033a0;
    color:#fff;font-size:15px;font-weight:600;cursor:pointer}
  button:hover{background:#00267a}
  .error{background:#fdecea;color:#8a1c12;border:1px solid #f5c2bd;border-radius:4px;
    padding:10px 12px;font-size:14px;margin:0 0 12px}
  .note{font-size:12px;color:#5b6470;margin-top:18px;text-align:center}
  code{background:#eef1f6;padding:1px 4px;border-radius:3px}
`;

function page(heading: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(heading)} - ${TITLE}</title>
<style>${STYLE}</style>
</head>
<body>
<header><div class="logo">CERN</div><h1>${TITLE}</h1></header>
<main><div class="card">
${body}
</div>
<p class="note">Local test emulator of CERN's Keycloak realm: not the real CERN SSO.</p>
</main>
</body>
</html>
`;
}

/** Sends an HTML page with headers that keep it out of caches and frames. */
export function sendHtml(res: Response, status: number, html: string): void {
  res
    .status(status)
    .set({
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      // No form-action: Chrome applies it to the redirect after the form post (to the app).
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
    })
    .send(html);
}

/** Inputs of the login form. */
export interface LoginPageOptions {
  /** Where the form posts (carries the pending login id). */
  action: string;
  clientId: string;
  username?: string | undefined;
  error?: string | undefined;
}

/** The sign-in form: `username`, `password`, and a submit button. */
export function renderLoginPage(options: LoginPageOptions): string {
  const error = options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : '';
  return page(
    'Sign in',
    `<h2>Sign in</h2>
<p class="muted">to continue to <strong>${escapeHtml(options.clientId)}</strong></p>
${error}<form id="kc-form-login" method="post" action="${escapeHtml(options.action)}">
<label for="username">Username or email</label>
<input id="username" name="username" type="text" autocomplete="username" autofocus required value="${escapeHtml(options.username ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="kc-login" name="login" type="submit">Sign In</button>
</form>
<p class="note">Seeded users (e.g. <code>jdoe</code>, <code>admin1</code>) use the password <code>demo</code>.</p>`,
  );
}

/** Keycloak's "We are sorry..." page. */
export function renderErrorPage(message: string): string {
  return page('Error', `<h2>We are sorry...</h2><p class="error" role="alert">${escapeHtml(message)}</p>`);
}

/** Shown after an end-session request without a (valid) post-logout redirect. */
export function renderLoggedOutPage(): string {
  return page(
    'Signed out',
    '<h2>You are logged out</h2><p class="muted">Your CERN SSO session has ended.</p>',
  );
}
