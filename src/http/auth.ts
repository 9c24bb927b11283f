import type { Request } from 'express';
import { hasCapability } from '../domain/access';
import { forbidden, unauthenticated } from '../domain/errors';
import type { Actor } from '../services/context';
import type { Access } from './route';

/** Resolves a bearer secret to the actor it stands for, or null when it is unknown or revoked. */
export type KeyResolver = (secret: string) => Promise<Actor | null>;

export function bearerToken(req: Request): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

/** 401 without a valid key; 403 for a role without the route's capability or a business unit outside the key's scope. */
export async function authorise(req: Request, access: Access, resolve: KeyResolver, bunitId?: number): Promise<Actor | null> {
  if (access === 'public') return null;
  const token = bearerToken(req);
  if (!token) throw unauthenticated();
  const actor = await resolve(token);
  if (!actor) throw unauthenticated('The API key is unknown or revoked.');
  if (!hasCapability(actor.role, access)) {
    throw forbidden(`This operation needs a key that may ${access}; this key has the ${actor.role} role.`);
  }
  if (bunitId !== undefined && actor.bunitIds !== 'all' && !actor.bunitIds.includes(bunitId)) {
    throw forbidden(`This key may not act for business unit ${bunitId}.`);
  }
  return actor;
}
