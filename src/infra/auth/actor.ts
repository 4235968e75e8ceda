// Who is calling, and from where: what the auth hook attaches to each request, and what services and
// the audit trail receive.
import type { FastifyRequest } from 'fastify';

export type Role = 'admin' | 'coordinator' | 'analyst' | 'observer';
export const ROLES = ['admin', 'coordinator', 'analyst', 'observer'] as const satisfies readonly Role[];

export interface Actor {
  userId: string;
  name: string;
  role: Role;
  /** The root of the region subtree the actor acts in; null means nationally (admins, national analysts). */
  scopeRegionCode: string | null;
  tokenId: string;
}

/** What a write needs for its audit entry. A null actor is the system (CLI, start-up bootstrap). */
export interface RequestContext {
  actor: Actor | null;
  requestId: string | null;
  ip: string | null;
}

/** The caller of a route that needs a token (every route not marked public): the auth hook has set it. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new Error('actorOf() on a request without an authenticated actor');
  return request.actor;
}

export function contextOf(request: FastifyRequest): RequestContext & { actor: Actor } {
  return { actor: actorOf(request), requestId: request.id, ip: request.ip };
}

export const systemContext = (via: string): RequestContext => ({ actor: null, requestId: via, ip: null });
