/** The people of the end-to-end tests. */
export const USERS = {
  admin: { tenant: 'default', email: 'admin@acme.example', role: 'admin', password: 'e2e admin password 1' },
  member: { tenant: 'default', email: 'member@acme.example', role: 'member', password: 'e2e member password 1' },
  globex: { tenant: 'globex', email: 'admin@globex.example', role: 'admin', password: 'e2e globex password 1', account: '999988887777' },
} as const;
