// Request and response schemas of users, tokens, assignments and the caller (/v1/me).
import { z } from 'zod';
import { ROLES } from '../../infra/auth/actor.js';
import { cursorParam, limitParam } from '../../infra/http/pagination.js';
import { instantInput } from '../../infra/http/validation.js';

export const roleSchema = z.enum(ROLES).meta({ id: 'Role' });
const code = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, 'a region or centre code');
const phone = z
  .string()
  .trim()
  .regex(/^\+?[0-9 ()-]{5,39}$/, 'a phone number: digits, spaces, ( ) - and an optional leading +');
const email = z.email().max(254);
const name = z.string().trim().min(1).max(200);
const externalId = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[\x21-\x7e]+$/, 'printable characters without spaces');

export const userSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    role: roleSchema,
    scopeRegion: z.string().nullable().meta({
      description:
        'Root of the region subtree the user acts in; null: nationally (or, for observers, anywhere they are assigned)',
    }),
    phone: z.string().nullable(),
    email: z.string().nullable(),
    externalId: z.string().nullable(),
    active: z.boolean(),
    assignmentCount: z.number().int(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    deactivatedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'User' });

export const assignmentSchema = z
  .object({ centreCode: z.string(), centreName: z.string(), parishCode: z.string(), stateCode: z.string() })
  .meta({ id: 'Assignment' });
export const userDetailSchema = userSchema
  .extend({ assignments: z.array(assignmentSchema) })
  .meta({ id: 'UserDetail' });

export const createUserBody = z
  .strictObject({
    name,
    role: roleSchema,
    scopeRegion: code.nullable().optional(),
    phone: phone.nullable().optional(),
    email: email.nullable().optional(),
    externalId: externalId.nullable().optional(),
    centres: z.array(code).max(1000).optional().meta({ description: 'Centres to assign (observers only)' }),
  })
  .meta({ id: 'CreateUser' });

export const updateUserBody = z
  .strictObject({
    name: name.optional(),
    role: roleSchema.optional(),
    scopeRegion: code.nullable().optional(),
    phone: phone.nullable().optional(),
    email: email.nullable().optional(),
    externalId: externalId.nullable().optional(),
    active: z.boolean().optional().meta({
      description: 'false deactivates the user and revokes every token of it at once; reactivating it needs new tokens',
    }),
  })
  .refine((body) => Object.keys(body).length > 0, 'Send at least one field to change')
  .meta({ id: 'UpdateUser' });

export const userListQuery = z.strictObject({
  role: roleSchema.optional(),
  region: code.optional().meta({ description: 'Users scoped inside this region, or assigned to a centre in it' }),
  active: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional(),
  q: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .meta({ description: 'Searches names, external ids, phones and emails' }),
  cursor: cursorParam(z.object({ at: instantInput(), id: z.uuid() })).optional(),
  limit: limitParam(50, 500),
});
export const userPageSchema = z
  .object({ items: z.array(userSchema), nextCursor: z.string().nullable() })
  .meta({ id: 'UserPage' });
export const userIdParams = z.strictObject({ id: z.uuid() });

export const tokenSchema = z
  .object({
    id: z.uuid(),
    userId: z.uuid(),
    name: z.string().nullable(),
    prefix: z.string().meta({ description: 'The first characters of the token, to recognise it' }),
    expiresAt: z.iso.datetime().nullable(),
    revokedAt: z.iso.datetime().nullable(),
    lastUsedAt: z.iso.datetime().nullable().meta({ description: 'Updated every TOKEN_LAST_USED_FLUSH_MS at most' }),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Token' });
export const newTokenSchema = tokenSchema
  .extend({ token: z.string().meta({ description: 'The bearer token. Shown this once; only its hash is stored.' }) })
  .meta({ id: 'NewToken' });
export const createTokenBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100).optional(),
    expiresAt: instantInput().optional().meta({ description: 'When the token stops working; none: until revoked' }),
  })
  .meta({ id: 'CreateToken' });
export const tokenIdParams = z.strictObject({ id: z.uuid() });

export const assignmentsBody = z
  .strictObject({ centres: z.array(code).max(1000) })
  .refine((body) => new Set(body.centres).size === body.centres.length, 'centres repeats a code')
  .meta({ id: 'ReplaceAssignments' });
export const assignmentsResponse = z
  .object({ userId: z.uuid(), assignments: z.array(assignmentSchema) })
  .meta({ id: 'Assignments' });

export const meSchema = userDetailSchema.extend({ token: tokenSchema.omit({ userId: true }) }).meta({ id: 'Me' });

const importCounts = { created: z.number().int(), updated: z.number().int(), unchanged: z.number().int() };
export const userImportSchema = z
  .object({
    rows: z.number().int(),
    ...importCounts,
    users: z.array(
      z.object({
        line: z.number().int(),
        externalId: z.string(),
        id: z.uuid(),
        status: z.enum(['created', 'updated', 'unchanged']),
        token: z
          .string()
          .nullable()
          .meta({ description: "A new user's bearer token, shown this once; null for users that existed" }),
      }),
    ),
  })
  .meta({ id: 'UserImportResult' });
