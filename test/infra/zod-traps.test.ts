// Every route's zod schemas, walked as the app registers them, are free of the zod 4 traps: a one-way
// .transform()/preprocess in a response (the JSON Schema then describes what is not sent), and a
// .default() inside an optional field (zod 4 fills it in, so an absent PATCH field overwrites), as Infisical checks.
import type * as FastifyModule from 'fastify';
import type { RouteOptions } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';

// The app's Fastify, with one onRoute hook added at creation (so every route, of every plugin, is seen).
const seen = vi.hoisted(() => ({ routes: [] as RouteOptions[] }));
vi.mock('fastify', async (importOriginal) => {
  const actual = await importOriginal<typeof FastifyModule>();
  const create = ((options?: object) => {
    const app = actual.default(options as never);
    app.addHook('onRoute', (route) => {
      seen.routes.push(route as unknown as RouteOptions);
    });
    return app;
  }) as unknown as typeof actual.default;
  return { ...actual, default: create, fastify: create };
});

const { setupTestApp } = await import('../helpers/app.js');

type Zod = z.core.$ZodType;
const isZod = (value: unknown): value is Zod =>
  Boolean(value) && typeof value === 'object' && '_zod' in (value as object);

/** Each trap in `schema` (at `where`), walking every nested schema once. */
export function zodTraps(schema: Zod, where: string, part: 'request' | 'response'): string[] {
  const traps: string[] = [];
  const visited = new Set<Zod>();
  const walk = (node: Zod, path: string, optional: boolean) => {
    if (visited.has(node)) return;
    visited.add(node);
    const def = node._zod.def as unknown as Record<string, unknown> & { type: string };
    const child = (value: unknown, at: string, inOptional = false) => {
      if (isZod(value)) walk(value, at, inOptional);
    };
    switch (def.type) {
      case 'transform':
        if (part === 'response') traps.push(`${where} ${path || '(root)'}: a one-way transform in a response`);
        return;
      case 'optional':
        child(def.innerType, path, true);
        return;
      case 'default':
      case 'prefault':
        if (optional) traps.push(`${where} ${path || '(root)'}: .${def.type}() inside an optional field`);
        if (isZod(def.innerType) && (def.innerType._zod.def as { type: string }).type === 'optional') {
          traps.push(`${where} ${path || '(root)'}: .${def.type}() around an optional field`);
        }
        child(def.innerType, path, optional);
        return;
      case 'nullable':
      case 'readonly':
      case 'catch':
      case 'nonoptional':
      case 'promise':
        child(def.innerType, path, optional);
        return;
      case 'pipe':
        child(def.in, path, optional);
        child(def.out, path, optional);
        return;
      case 'lazy':
        child((def.getter as () => unknown)(), path, optional);
        return;
      case 'object':
        for (const [key, value] of Object.entries(def.shape as Record<string, unknown>))
          child(value, path ? `${path}.${key}` : key);
        child(def.catchall, `${path}.*`);
        return;
      case 'array':
        child(def.element, `${path}[]`);
        return;
      case 'set':
        child(def.valueType, `${path}[]`);
        return;
      case 'record':
      case 'map':
        child(def.keyType, `${path}{key}`);
        child(def.valueType, `${path}{}`);
        return;
      case 'tuple':
        (def.items as unknown[]).forEach((item, i) => child(item, `${path}[${i}]`));
        child(def.rest, `${path}[]`);
        return;
      case 'union':
        (def.options as unknown[]).forEach((option) => child(option, path, optional));
        return;
      case 'intersection':
        child(def.left, path, optional);
        child(def.right, path, optional);
        return;
      default:
        return;
    }
  };
  walk(schema, '', false);
  return traps;
}

describe('zod 4 traps', () => {
  it('the walker finds each trap (and nothing in clean schemas)', () => {
    const clean = z.object({
      a: z.string().optional(),
      b: z.number().default(1),
      c: z.array(z.object({ d: z.boolean().nullable() })),
    });
    expect(zodTraps(clean, 'clean', 'response')).toEqual([]);
    expect(zodTraps(clean, 'clean', 'request')).toEqual([]);
    expect(zodTraps(z.object({ at: z.date().transform((d) => d.toISOString()) }), 'GET /x 200', 'response')).toEqual([
      'GET /x 200 at: a one-way transform in a response',
    ]);
    expect(zodTraps(z.object({ at: z.date().transform((d) => d.toISOString()) }), 'POST /x body', 'request')).toEqual(
      [],
    );
    expect(
      zodTraps(z.object({ items: z.array(z.preprocess((v) => v, z.string())) }), 'GET /y 200', 'response'),
    ).toEqual(['GET /y 200 items[]: a one-way transform in a response']);
    expect(
      zodTraps(z.object({ p: z.object({ q: z.string().default('x').optional() }) }), 'PATCH /z body', 'request'),
    ).toEqual(['PATCH /z body p.q: .default() inside an optional field']);
    expect(zodTraps(z.object({ q: z.string().optional().default('x') }), 'PATCH /z body', 'request')).toEqual([
      'PATCH /z body q: .default() around an optional field',
    ]);
  });

  it('every route registered by buildApp is free of them', async () => {
    const { app } = await setupTestApp();
    await app.ready();
    const routes = seen.routes.filter((route) => route.schema);
    // The walk saw the application's routes, not just a few.
    const names = routes.flatMap((route) => [route.method].flat().map((method) => `${method} ${route.url}`));
    expect(names).toEqual(
      expect.arrayContaining([
        'POST /v1/reports',
        'PUT /v1/election',
        'GET /v1/summaries',
        'POST /v1/reports/:id/photos',
      ]),
    );
    let walked = 0;
    const traps: string[] = [];
    for (const route of routes) {
      const schema = route.schema as Record<string, unknown>;
      const name = `${[route.method].flat().join(',')} ${route.url}`;
      for (const part of ['body', 'querystring', 'params', 'headers'] as const) {
        if (isZod(schema[part])) {
          walked += 1;
          traps.push(...zodTraps(schema[part], `${name} ${part}`, 'request'));
        }
      }
      for (const [status, response] of Object.entries((schema.response ?? {}) as Record<string, unknown>)) {
        if (isZod(response)) {
          walked += 1;
          traps.push(...zodTraps(response, `${name} ${status}`, 'response'));
        }
      }
    }
    expect(walked).toBeGreaterThan(40);
    expect(traps).toEqual([]);
  });
});
