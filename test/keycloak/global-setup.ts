/**
 * Vitest global setup of the `keycloak` project: starts one Keycloak for the whole run and hands
 * its URLs to the tests (`inject('keycloak')`). Without Java (or Maven, before the first download)
 * the tests are skipped locally with a loud banner, and fail in CI.
 */
import type { TestProject } from 'vitest/node';
import { isCi } from '../helpers/ci.js';
import { keycloakPrerequisitesMissing, startKeycloak, type KeycloakInfo } from './keycloak.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The running Keycloak, or null when its tests are skipped (local run without Java/Maven). */
    keycloak: KeycloakInfo | null;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const missing = keycloakPrerequisitesMissing();
  if (missing.length > 0) {
    if (isCi()) throw new Error(`Keycloak tests need, in CI: ${missing.join('; ')}`);
    const line = '!'.repeat(78);
    console.warn(
      `\n${line}\n!! KEYCLOAK TESTS SKIPPED: ${missing.join('; ')}\n` +
        `!! Install them to run the conformance tests against real Keycloak. In CI (CI set) these tests fail.\n${line}\n`,
    );
    project.provide('keycloak', null);
    return undefined;
  }
  const keycloak = await startKeycloak();
  console.info(
    `Keycloak ${keycloak.info.version} ready in ${keycloak.startSeconds.toFixed(1)} s at ${keycloak.info.baseUrl}`,
  );
  project.provide('keycloak', keycloak.info);
  return () => keycloak.stop();
}
