// Request and response schemas of the registry routes (the OpenAPI document is generated from them).
import { z } from 'zod';
import { cursorParam, limitParam } from '../../infra/http/pagination.js';

export const levelSchema = z.enum(['state', 'municipality', 'parish']).meta({ id: 'RegionLevel' });
const codeSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, 'a region or centre code')
  .meta({ example: '010101' });

const counts = z.object({ created: z.number().int(), updated: z.number().int(), unchanged: z.number().int() });
export const importSummarySchema = z
  .object({ rows: z.number().int(), regions: counts, centres: counts, tables: counts, durationMs: z.number().int() })
  .meta({ id: 'RegistryImportSummary' });

const regionRef = z.object({ code: z.string(), name: z.string() });
export const regionSchema = z
  .object({
    code: z.string(),
    name: z.string(),
    level: levelSchema,
    parentCode: z.string().nullable(),
    centres: z.number().int(),
    tables: z.number().int(),
    registeredVoters: z.number().int(),
  })
  .meta({ id: 'Region' });
export const regionDetailSchema = regionSchema
  .extend({
    path: z
      .array(regionRef.extend({ level: levelSchema }))
      .meta({ description: 'Ancestors, from the state down to the parent' }),
    children: z.number().int(),
  })
  .meta({ id: 'RegionDetail' });

export const regionListQuery = z.strictObject({
  level: levelSchema.optional(),
  parent: codeSchema.optional().meta({ description: 'Only the children of this region' }),
});
export const codeParams = z.strictObject({ code: codeSchema });

export const centreSchema = z
  .object({
    code: z.string(),
    name: z.string(),
    address: z.string().nullable(),
    latitude: z.number().nullable(),
    longitude: z.number().nullable(),
    parishCode: z.string(),
    municipalityCode: z.string(),
    stateCode: z.string(),
    tableCount: z.number().int(),
    registeredVoters: z.number().int(),
  })
  .meta({ id: 'Centre' });
export const centreListQuery = z.strictObject({
  region: codeSchema.optional().meta({ description: 'A region code at any level' }),
  q: z.string().trim().min(1).max(100).optional().meta({ description: 'Searches centre names and codes' }),
  cursor: cursorParam(z.object({ after: z.string() })).optional(),
  limit: limitParam(50, 500),
});
export const centrePageSchema = z
  .object({ items: z.array(centreSchema), nextCursor: z.string().nullable() })
  .meta({ id: 'CentrePage' });
export const centreDetailSchema = centreSchema
  .omit({ parishCode: true, municipalityCode: true, stateCode: true })
  .extend({
    state: regionRef,
    municipality: regionRef,
    parish: regionRef,
    tables: z.array(z.object({ number: z.number().int(), registeredVoters: z.number().int() })),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'CentreDetail' });
