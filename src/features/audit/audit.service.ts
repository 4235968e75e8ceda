// Reading the audit trail: filters and pages over audit_entries, newest first (admins only, by route).
import { pageOf } from '../../infra/http/pagination.js';
import type { AuditReader } from './audit.repository.js';

export interface AuditFilter {
  actor?: string | undefined;
  action?: string | undefined;
  entityId?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  before?: string | undefined;
}

export function createAuditService({ repo }: { repo: AuditReader }) {
  return {
    async list(filter: AuditFilter, limit: number) {
      const rows = await repo.list({
        actor: filter.actor,
        action: filter.action,
        entityId: filter.entityId,
        since: filter.since ? new Date(filter.since) : undefined,
        until: filter.until ? new Date(filter.until) : undefined,
        before: filter.before ? BigInt(filter.before) : undefined,
        limit: limit + 1,
      });
      const page = pageOf(rows, limit, (last) => ({ before: last.id.toString() }));
      return {
        items: page.items.map((row) => ({ ...row, id: row.id.toString(), at: row.at.toISOString() })),
        next: page.next,
      };
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
