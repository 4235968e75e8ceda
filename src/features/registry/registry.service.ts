// The registry's use cases: importing a CSV as one all-or-nothing upsert, and reading regions and centres.
import type { Readable } from 'node:stream';
import type { RequestContext } from '../../infra/auth/actor.js';
import { LineErrors } from '../../infra/csv.js';
import type { Database } from '../../infra/db/client.js';
import { AppError } from '../../infra/errors.js';
import { pageOf } from '../../infra/http/pagination.js';
import { type Level, parseRegistryCsv, type RegistryDraft } from './registry.csv.js';
import { createRegistryRepository, type RegistryRepository, type UpsertCounts } from './registry.repository.js';

export interface ImportSummary {
  rows: number;
  regions: UpsertCounts;
  centres: UpsertCounts;
  tables: UpsertCounts;
  durationMs: number;
}

const IMPORT_TIMEOUT_MS = 10 * 60_000;

/** Problems between the file and what the registry already holds: a code may not change level or parent. */
async function checkAgainstRegistry(
  tx: Omit<RegistryRepository, 'transaction'>,
  draft: RegistryDraft,
  errors: LineErrors,
): Promise<void> {
  const regions = [...draft.regions.values()];
  for (const existing of await tx.existingRegions(regions.map((r) => r.code))) {
    const incoming = draft.regions.get(existing.code);
    if (!incoming) continue;
    if (existing.level !== incoming.level) {
      errors.add(
        incoming.line,
        `Code ${existing.code} is a ${existing.level} in the registry, not a ${incoming.level}`,
        `${incoming.level}_code`,
      );
    } else if (existing.parentCode !== incoming.parentCode) {
      errors.add(
        incoming.line,
        `${incoming.level} ${existing.code} changes parent: ${existing.parentCode} in the registry, ${incoming.parentCode} in the file`,
        `${incoming.level}_code`,
      );
    }
  }
  for (const existing of await tx.existingCentres([...draft.centres.keys()])) {
    const incoming = draft.centres.get(existing.code);
    if (incoming && existing.parishCode !== incoming.parishCode) {
      errors.add(
        incoming.line,
        `Centre ${existing.code} changes parent: parish ${existing.parishCode} in the registry, ${incoming.parishCode} in the file`,
        'parish_code',
      );
    }
  }
  for (const code of await tx.codesTakenByOtherKind(
    regions.map((r) => r.code),
    [...draft.centres.keys()],
  )) {
    const line = draft.regions.get(code)?.line ?? draft.centres.get(code)?.line ?? 0;
    errors.add(
      line,
      `Code ${code} is already used by a ${draft.regions.has(code) ? 'centre' : 'region'} in the registry`,
    );
  }
}

export function createRegistryService(prisma: Database['prisma']) {
  const repo = createRegistryRepository(prisma);
  return {
    /**
     * Imports a registry CSV: validates the whole stream first, then upserts everything in one
     * transaction. Re-importing the same file changes nothing; it never deletes.
     */
    async importCsv(context: RequestContext, input: Readable): Promise<ImportSummary> {
      const started = performance.now();
      const errors = new LineErrors();
      const draft = await parseRegistryCsv(input, errors);
      if (errors.total > 0) throw errors.problem('REGISTRY_CSV_INVALID');
      const levels: Level[] = ['state', 'municipality', 'parish'];
      const result = await repo.transaction(
        async (tx) => {
          await tx.lockImports();
          await checkAgainstRegistry(tx, draft, errors);
          if (errors.total > 0) throw errors.problem('REGISTRY_CSV_INVALID');
          const regions: UpsertCounts = { created: 0, updated: 0, unchanged: 0 };
          for (const level of levels) {
            const counts = await tx.upsertRegions(
              [...draft.regions.values()].filter((region) => region.level === level),
            );
            regions.created += counts.created;
            regions.updated += counts.updated;
            regions.unchanged += counts.unchanged;
          }
          const centres = await tx.upsertCentres([...draft.centres.values()], {
            address: draft.hasAddress,
            coordinates: draft.hasCoordinates,
          });
          const tables = await tx.upsertTables(draft.tables);
          // Summaries read the registry's size per region from a table of its own, kept in step here.
          if ([regions, centres, tables].some((counts) => counts.created + counts.updated > 0))
            await tx.refreshSummaryRegistry();
          await tx.audit(context, [
            {
              action: 'registry.imported',
              entityType: 'registry',
              details: { rows: draft.rows, regions, centres, tables },
            },
          ]);
          return { regions, centres, tables };
        },
        { timeout: IMPORT_TIMEOUT_MS, maxWait: IMPORT_TIMEOUT_MS },
      );
      return { rows: draft.rows, ...result, durationMs: Math.round(performance.now() - started) };
    },

    async listRegions(filter: { level?: Level; parent?: string }) {
      if (filter.parent && !(await repo.findRegion(filter.parent))) {
        throw new AppError('NOT_FOUND', `Region ${filter.parent} does not exist`);
      }
      // With no filter, the top of the tree.
      const level = filter.level ?? (filter.parent ? undefined : 'state');
      return repo.listRegions({ level, parent: filter.parent });
    },

    async getRegion(code: string) {
      const [region] = await repo.listRegions({ code });
      if (!region) throw new AppError('NOT_FOUND', `Region ${code} does not exist`);
      const [path, children] = await Promise.all([repo.ancestors(code), repo.countChildren(code)]);
      return { ...region, path, children };
    },

    async listCentres(filter: { region?: string; q?: string; after?: string; limit: number }) {
      let region: { code: string; level: Level } | undefined;
      if (filter.region) {
        region = await repo.findRegion(filter.region);
        if (!region) throw new AppError('NOT_FOUND', `Region ${filter.region} does not exist`);
      }
      const rows = await repo.listCentres({ region, q: filter.q, after: filter.after, limit: filter.limit + 1 });
      return pageOf(rows, filter.limit, (last) => last.code);
    },

    async getCentre(code: string) {
      const centre = await repo.findCentre(code);
      if (!centre) throw new AppError('NOT_FOUND', `Centre ${code} does not exist`);
      const { tables, parish, municipality, state, createdAt, updatedAt } = centre;
      return {
        code: centre.code,
        name: centre.name,
        address: centre.address,
        latitude: centre.latitude,
        longitude: centre.longitude,
        state,
        municipality,
        parish,
        tableCount: tables.length,
        registeredVoters: tables.reduce((sum, table) => sum + table.registeredVoters, 0),
        tables,
        createdAt: createdAt.toISOString(),
        updatedAt: updatedAt.toISOString(),
      };
    },
  };
}

export type RegistryService = ReturnType<typeof createRegistryService>;
