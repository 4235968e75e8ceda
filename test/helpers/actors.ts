// Factories for the people a test needs: a user of any role with a bearer token, made through the service.
import type { FastifyInstance, InjectOptions } from 'fastify';
import { createUsersService } from '../../src/features/users/users.service.js';
import { type Role, systemContext } from '../../src/infra/auth/actor.js';

export interface TestActor {
  id: string;
  role: Role;
  token: string;
  tokenId: string;
  headers: { authorization: string };
}

let counter = 0;

export async function createActor(
  app: FastifyInstance,
  role: Role,
  options: { scopeRegion?: string | null; name?: string } = {},
): Promise<TestActor> {
  counter += 1;
  const { user, token } = await createUsersService(app.db.prisma).createWithToken(systemContext('test'), {
    name: options.name ?? `${role} ${counter}`,
    role,
    scopeRegion: options.scopeRegion ?? null,
  });
  return {
    id: user.id,
    role,
    token: token.token,
    tokenId: token.id,
    headers: { authorization: `Bearer ${token.token}` },
  };
}

/** app.inject as `actor`. */
export function as(app: FastifyInstance, actor: TestActor | undefined) {
  return (options: InjectOptions | string) => {
    const request = typeof options === 'string' ? { url: options } : options;
    return app.inject({ ...request, headers: { ...(request.headers ?? {}), ...(actor?.headers ?? {}) } });
  };
}
