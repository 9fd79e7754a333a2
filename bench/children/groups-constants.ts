/** Shared by the `cold-groups` children (a module without side effects: children start on import). */
export const GUARDED_GROUP = 'bench-staff';
export const CLIENT_ID = 'bench-app';
export const CLIENT_SECRET = 'bench-app-secret';
