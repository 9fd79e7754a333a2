import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { SignJWT } from 'jose';

/** An Express app listening on 127.0.0.1:0. */
export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

/** Builds an app with `setup` and starts it on a random loopback port. */
export async function startApp(setup: (app: Express) => void): Promise<RunningApp> {
  const app = express();
  app.disable('x-powered-by');
  setup(app);
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => {
      resolve(listening);
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A response, read completely. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

/** A request with an optional bearer token; the body is parsed as JSON when it is JSON. */
export async function call(
  url: string,
  options: { token?: string; headers?: Record<string, string>; method?: string; body?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const init: RequestInit = { method: options.method ?? 'GET', headers };
  if (options.body !== undefined) init.body = options.body;
  const response = await fetch(url, init);
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** A GET with raw headers (e.g. two `Authorization` headers, which fetch would merge). */
export async function rawGet(url: string, rawHeaders: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: rawHeaders }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Decodes a JWT's parts without verification. */
export function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header = '', payload = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>,
  };
}

/** The same token with its payload changed and the original signature kept. */
export function tamper(token: string, change: Record<string, unknown>): string {
  const [header = '', , signature = ''] = token.split('.');
  return `${header}.${b64({ ...decode(token).payload, ...change })}.${signature}`;
}

/** An unsigned (`alg: none`) JWT with the claims of `token`. */
export function unsigned(token: string): string {
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(decode(token).payload)}.`;
}

/** The classic RS/HS confusion: an HS256 JWT whose HMAC secret is the issuer's RSA public key. */
export async function hs256WithPublicKey(
  token: string,
  publicKeyPem: string,
  kid: string | undefined,
): Promise<string> {
  const header: { alg: string; typ: string; kid?: string } = { alg: 'HS256', typ: 'JWT' };
  if (kid !== undefined) header.kid = kid;
  return new SignJWT(decode(token).payload).setProtectedHeader(header).sign(Buffer.from(publicKeyPem));
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
