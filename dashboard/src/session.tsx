/** Who is signed in, for every page: the principal (tenant, role) and how to sign out. */
import { createContext, useContext } from 'react';
import type { Principal } from './api/client';
import type { RuntimeConfig } from './config';

export interface Signed {
  config: RuntimeConfig;
  principal: Principal;
  isAdmin: boolean;
  signOut: () => void;
}

export const SignedIn = createContext<Signed | null>(null);

export function useSigned(): Signed {
  const signed = useContext(SignedIn);
  if (!signed) throw new Error('useSigned outside the signed-in app');
  return signed;
}
