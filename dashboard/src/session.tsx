/** Who is signed in, for every page: the principal (tenant, role) and how to sign out. */
import { createContext, useContext } from 'react';
import type { Principal } from './api/client';
import type { RuntimeConfig } from './config';

export interface Signed {
  config: RuntimeConfig;
  principal: Principal;
  isAdmin: boolean;
  signOut: () => void;
  /** The tenant's discount off list prices (`pricing.discount_percent`): figures are shown at
   * what the tenant pays, the list price beside. */
  discountPercent: number;
  setDiscountPercent: (percent: number) => void;
}

export const SignedIn = createContext<Signed | null>(null);

export function useSigned(): Signed {
  const signed = useContext(SignedIn);
  if (!signed) throw new Error('useSigned outside the signed-in app');
  return signed;
}
