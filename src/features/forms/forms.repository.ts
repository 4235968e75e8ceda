// SQL of forms: the catalogue (every form with its versions), and the audited writes — a new form at version 1,
// the next version, a retirement — each one transaction that NOTIFYs FORMS_CHANNEL, so that every process
// forgets its catalogue at commit.
import type { PrismaClient } from '../../generated/prisma/client.js';
import { auditTrail as audit } from '../../infra/audit.js';
import type { RequestContext } from '../../infra/auth/actor.js';
import type { Db } from '../../infra/db/client.js';
import { notify } from '../../infra/db/listener.js';
import type { FormDefinition } from './forms.schemas.js';

export const FORMS_CHANNEL = 'testigo_forms';

export interface FormVersionRow {
  version: number;
  definition: FormDefinition;
  retiredAt: Date | null;
  createdAt: Date;
}
export interface FormRow {
  key: string;
  role: string | null;
  unit: 'centre' | 'table';
  createdAt: Date;
  versions: FormVersionRow[];
}

type VersionRecord = {
  form_key: string;
  version: number;
  definition: FormDefinition;
  retired_at: Date | null;
  created_at: Date;
};

export function createFormsRepository(prisma: PrismaClient) {
  const forms = async (db: Db, key?: string): Promise<FormRow[]> => {
    const [heads, versions] = await Promise.all([
      key === undefined
        ? db.$queryRaw<{ key: string; role: string | null; unit: 'centre' | 'table'; created_at: Date }[]>`
            SELECT key, role, unit, created_at FROM forms ORDER BY created_at, key`
        : db.$queryRaw<{ key: string; role: string | null; unit: 'centre' | 'table'; created_at: Date }[]>`
            SELECT key, role, unit, created_at FROM forms WHERE key = ${key}`,
      key === undefined
        ? db.$queryRaw<VersionRecord[]>`
            SELECT form_key, version, definition, retired_at, created_at FROM form_versions ORDER BY form_key, version`
        : db.$queryRaw<VersionRecord[]>`
            SELECT form_key, version, definition, retired_at, created_at FROM form_versions
            WHERE form_key = ${key} ORDER BY version`,
    ]);
    const byKey = new Map<string, FormVersionRow[]>();
    for (const row of versions) {
      const list = byKey.get(row.form_key) ?? [];
      list.push({
        version: row.version,
        definition: row.definition,
        retiredAt: row.retired_at,
        createdAt: row.created_at,
      });
      byKey.set(row.form_key, list);
    }
    return heads.map((head) => ({
      key: head.key,
      role: head.role,
      unit: head.unit,
      createdAt: head.created_at,
      versions: byKey.get(head.key) ?? [],
    }));
  };

  /**
   * What every write of a form does in its transaction: tell every process (their caches of compiled versions), and
   * bump the tallies' version, since analyses answer with the form's versions (their cached answers must go).
   */
  const changed = async (tx: Db, key: string) => {
    await notify(tx, FORMS_CHANNEL, [key]);
    await tx.$executeRaw`SELECT testigo_tallies_bump()`;
  };

  return {
    /** Every form with all its versions, oldest form first (the built-ins, then the mission's in creation order). */
    all: () => forms(prisma),
    /** One form with its versions, as stored now. */
    find: async (key: string): Promise<FormRow | undefined> => (await forms(prisma, key))[0],

    /** Creates the form at version 1 with its audit row; false when the key is taken. */
    async create(context: RequestContext, definition: FormDefinition): Promise<boolean> {
      return prisma.$transaction(async (tx) => {
        const inserted = await tx.$queryRaw<{ key: string }[]>`
          INSERT INTO forms (key, role, unit, created_by_id)
          VALUES (${definition.key}, NULL, ${definition.unit}, ${context.actor?.userId ?? null}::uuid)
          ON CONFLICT (key) DO NOTHING RETURNING key`;
        if (inserted.length === 0) return false;
        await tx.$executeRaw`
          INSERT INTO form_versions (form_key, version, definition, created_by_id)
          VALUES (${definition.key}, 1, ${JSON.stringify(definition)}::jsonb, ${context.actor?.userId ?? null}::uuid)`;
        await audit.record(tx, context, [
          {
            action: 'form.created',
            entityType: 'form',
            entityId: definition.key,
            details: { version: 1, unit: definition.unit, questions: definition.questions.length },
          },
        ]);
        await changed(tx, definition.key);
        return true;
      });
    },

    /**
     * Publishes the next version of form `key` (the form's row locked: concurrent publishes number one after the
     * other) if `accept` finds nothing wrong with it against the form as it is then (it throws otherwise).
     * Answers the version number, or undefined when the form does not exist.
     */
    async publish(
      context: RequestContext,
      key: string,
      definition: FormDefinition,
      accept: (form: FormRow) => void,
    ): Promise<number | undefined> {
      return prisma.$transaction(async (tx) => {
        const locked = await tx.$queryRaw<{ key: string }[]>`SELECT key FROM forms WHERE key = ${key} FOR UPDATE`;
        if (locked.length === 0) return undefined;
        const [form] = await forms(tx, key);
        accept(form!);
        const version = Math.max(0, ...form!.versions.map((row) => row.version)) + 1;
        await tx.$executeRaw`
          INSERT INTO form_versions (form_key, version, definition, created_by_id)
          VALUES (${key}, ${version}, ${JSON.stringify(definition)}::jsonb, ${context.actor?.userId ?? null}::uuid)`;
        await audit.record(tx, context, [
          {
            action: 'form.published',
            entityType: 'form',
            entityId: key,
            details: { version, questions: definition.questions.map((question) => question.key) },
          },
        ]);
        await changed(tx, key);
        return version;
      });
    },

    /** Retires a version (with its audit row); 'retired' once, 'already' after, undefined when it does not exist. */
    async retire(context: RequestContext, key: string, version: number): Promise<'retired' | 'already' | undefined> {
      return prisma.$transaction(async (tx) => {
        const rows = await tx.$queryRaw<{ was: Date | null }[]>`
          SELECT retired_at AS was FROM form_versions WHERE form_key = ${key} AND version = ${version} FOR UPDATE`;
        if (rows.length === 0) return undefined;
        if (rows[0]!.was) return 'already';
        await tx.$executeRaw`
          UPDATE form_versions SET retired_at = now() WHERE form_key = ${key} AND version = ${version}`;
        await audit.record(tx, context, [
          { action: 'form.retired', entityType: 'form', entityId: key, details: { version } },
        ]);
        await changed(tx, key);
        return 'retired';
      });
    },
  };
}

export type FormsRepository = ReturnType<typeof createFormsRepository>;
