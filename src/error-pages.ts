import type { Request } from 'express';
import { kLogger, kRenderError, type InternalContext } from './context.js';
import type { CernSsoError, CernSsoErrorCode } from './errors.js';
import { consoleLogger } from './logger.js';

/** The languages of the built-in pages. */
export type PageLanguage = 'en' | 'fr';

type Texts = Readonly<Record<PageLanguage, string>>;

/** A link under the message (e.g. "Sign in again" after a failed login). */
export interface PageLink {
  href: string;
  text: Texts;
}

/** The text of the link back to the login route. */
export const SIGN_IN_AGAIN: Texts = { en: 'Sign in again', fr: 'Se reconnecter' };

const SOMETHING_WRONG: Texts = { en: 'Something went wrong', fr: 'Une erreur est survenue' };
const LOGIN_FAILED: Texts = { en: 'Login failed', fr: 'Échec de la connexion' };
const ACCESS_DENIED: Texts = { en: 'Access denied', fr: 'Accès refusé' };
const SIGN_IN_REQUIRED: Texts = { en: 'Sign-in required', fr: 'Connexion requise' };
const BAD_REQUEST: Texts = { en: 'Bad request', fr: 'Requête invalide' };
const TELL_ADMINS: Texts = {
  en: 'Sign-in is misconfigured for this application; please tell its administrators.',
  fr: 'La connexion est mal configurée pour cette application ; merci de prévenir ses administrateurs.',
};
const INTERNAL: Texts = {
  en: 'An internal error occurred. Please try again later.',
  fr: 'Une erreur interne est survenue. Veuillez réessayer plus tard.',
};
const BAD_REQUEST_SENTENCE: Texts = {
  en: 'The request could not be understood.',
  fr: "La requête n'a pas pu être comprise.",
};

/** Title and sentence of each library code, in each language. Keyed by the error's own code. */
const PAGES = new Map<CernSsoErrorCode, { title: Texts; sentence: Texts }>([
  ['ERR_CONFIG', { title: SOMETHING_WRONG, sentence: TELL_ADMINS }],
  ['ERR_IDP_MISCONFIGURED', { title: SOMETHING_WRONG, sentence: TELL_ADMINS }],
  ['ERR_SESSION_MISSING', { title: SOMETHING_WRONG, sentence: TELL_ADMINS }],
  ['ERR_INTERNAL', { title: SOMETHING_WRONG, sentence: INTERNAL }],
  [
    'ERR_UPSTREAM_UNAVAILABLE',
    {
      title: { en: 'Service temporarily unavailable', fr: 'Service temporairement indisponible' },
      sentence: {
        en: 'A CERN service this page depends on is not answering. Please try again in a few moments.',
        fr: 'Un service du CERN dont dépend cette page ne répond pas. Veuillez réessayer dans quelques instants.',
      },
    },
  ],
  [
    'ERR_LOGIN_FAILED',
    {
      title: LOGIN_FAILED,
      sentence: { en: 'The sign-in could not be completed.', fr: "La connexion n'a pas pu aboutir." },
    },
  ],
  [
    'ERR_LOGIN_STATE',
    {
      title: LOGIN_FAILED,
      sentence: {
        en: 'This sign-in expired, was already used or was started in another browser. Please start the sign-in again.',
        fr: 'Cette connexion a expiré, a déjà été utilisée ou a été commencée dans un autre navigateur. Veuillez recommencer la connexion.',
      },
    },
  ],
  [
    'ERR_LOGIN_DENIED',
    {
      title: ACCESS_DENIED,
      sentence: {
        en: 'Your account may not sign in to this application.',
        fr: "Votre compte n'est pas autorisé à se connecter à cette application.",
      },
    },
  ],
  [
    'ERR_FORBIDDEN',
    {
      title: ACCESS_DENIED,
      sentence: { en: 'You do not have access to this page.', fr: "Vous n'avez pas accès à cette page." },
    },
  ],
  [
    'ERR_STEP_UP_REQUIRED',
    {
      title: SIGN_IN_REQUIRED,
      sentence: {
        en: 'This page requires a more recent or stronger sign-in.',
        fr: 'Cette page demande une connexion plus récente ou plus forte.',
      },
    },
  ],
  [
    'ERR_NOT_AUTHENTICATED',
    {
      title: SIGN_IN_REQUIRED,
      sentence: {
        en: 'Please sign in to see this page.',
        fr: 'Veuillez vous connecter pour voir cette page.',
      },
    },
  ],
  [
    'ERR_SESSION_EXPIRED',
    {
      title: { en: 'Session expired', fr: 'Session expirée' },
      sentence: {
        en: 'Your CERN sign-in has expired. Please sign in again.',
        fr: 'Votre connexion CERN a expiré. Veuillez vous reconnecter.',
      },
    },
  ],
  [
    'ERR_INVALID_TOKEN',
    {
      title: SIGN_IN_REQUIRED,
      sentence: {
        en: 'The access token is invalid or has expired.',
        fr: "Le jeton d'accès est invalide ou a expiré.",
      },
    },
  ],
  [
    'ERR_TOKEN_EXCHANGE',
    {
      title: SOMETHING_WRONG,
      sentence: {
        en: 'Access to another CERN service on your behalf was refused.',
        fr: 'L’accès à un autre service du CERN en votre nom a été refusé.',
      },
    },
  ],
  ['ERR_INVALID_REQUEST', { title: BAD_REQUEST, sentence: BAD_REQUEST_SENTENCE }],
  ['ERR_BAD_REQUEST', { title: BAD_REQUEST, sentence: BAD_REQUEST_SENTENCE }],
]);

const FALLBACK = { title: SOMETHING_WRONG, sentence: INTERNAL };

/** `EN`, `fr`, `fr-CH`...: the page language named by a `cern_preferred_language` claim. */
function claimLanguage(value: string | undefined): PageLanguage | undefined {
  const match = /^(en|fr)(?:[-_]|$)/i.exec(value ?? '');
  return match?.[1]?.toLowerCase() as PageLanguage | undefined;
}

/**
 * The language of the built-in page: the signed-in user's `cern_preferred_language`, else the
 * first of English and French the `Accept-Language` header prefers, else English.
 */
export function pageLanguage(req: Request): PageLanguage {
  const context = (req as { sso?: InternalContext }).sso;
  // `acceptsLanguages` answers one of the languages offered, or false.
  return (
    claimLanguage(context?.user?.preferredLanguage) ??
    ((req.acceptsLanguages('en', 'fr') || 'en') as PageLanguage)
  );
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The built-in page: a self-contained document (no external resource, no script). The error's
 * message, when it may be shown and says more than the sentence, follows as a detail; library
 * messages are English, so under a French sentence it is marked `lang="en"`.
 */
export function builtInErrorPage(error: CernSsoError, lang: PageLanguage, link?: PageLink): string {
  const page = PAGES.get(error.code) ?? FALLBACK;
  const title = escapeHtml(page.title[lang]);
  const sentence = page.sentence[lang];
  const detail =
    error.expose && error.message !== '' && error.message !== page.sentence.en
      ? `<p class="detail"${lang === 'en' ? '' : ' lang="en"'}>${escapeHtml(error.message)}</p>`
      : '';
  const action = link ? `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.text[lang])}</a></p>` : '';
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>body{font-family:system-ui,sans-serif;background:#f4f6f9;color:#1c2733;margin:0;display:grid;place-items:center;min-height:100vh}
main{background:#fff;border-radius:10px;box-shadow:0 2px 12px #0002;padding:2rem 2.5rem;max-width:32rem}
h1{font-size:1.3rem;margin-top:0;color:#0033a0}a{color:#0033a0}.detail{color:#4a5868}</style></head>
<body><main><h1>${title}</h1><p>${escapeHtml(sentence)}</p>${detail}${action}</main></body></html>`;
}

/**
 * The application's page for `error` (the `renderError` of the `cernSso()` behind `req.sso`), or
 * `undefined` for the built-in one. A renderer that throws or returns something other than a
 * string or `undefined` is logged (error level, once per failure) and the built-in page is used.
 */
export function customErrorPage(req: Request, error: CernSsoError): string | undefined {
  const context = (req as { sso?: InternalContext }).sso;
  const render = context?.[kRenderError];
  if (!render) return undefined;
  let problem: { err: unknown } | { problem: string };
  try {
    const html: unknown = render(error, req);
    if (html === undefined || typeof html === 'string') return html;
    problem = {
      problem: `returned ${html === null ? 'null' : typeof html} instead of a string or undefined`,
    };
  } catch (thrown) {
    problem = { err: thrown };
  }
  try {
    (context[kLogger] ?? consoleLogger).error(
      { ...problem, code: error.code, option: 'renderError', method: req.method, path: req.path },
      'renderError failed: the built-in page was sent',
    );
  } catch {
    // A throwing logger must not keep the page from being sent.
  }
  return undefined;
}
