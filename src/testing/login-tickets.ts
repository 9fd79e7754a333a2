import { randomBytes } from 'node:crypto';

/**
 * Header on an authorization request that names a one-time ticket from `emulator.login()`: the
 * ticket's user "types the password", whatever `autoLogin` says, so parallel `login()` calls for
 * different users never race on the emulator's global setting.
 */
export const LOGIN_TICKET_HEADER = 'x-cern-sso-emulator-login';

/**
 * One-time login tickets (ticket -> login). Only `emulator.login()` (test code) creates them and
 * it deletes its ticket when it ends, so the map holds at most one entry per running `login()`.
 */
export class LoginTickets {
  private readonly tickets = new Map<string, string>();

  create(login: string): string {
    const ticket = randomBytes(24).toString('base64url');
    this.tickets.set(ticket, login);
    return ticket;
  }

  /** The ticket's login, once: the ticket is gone afterwards. */
  take(ticket: string | undefined): string | undefined {
    if (ticket === undefined) return undefined;
    const login = this.tickets.get(ticket);
    this.tickets.delete(ticket);
    return login;
  }

  delete(ticket: string): void {
    this.tickets.delete(ticket);
  }
}
