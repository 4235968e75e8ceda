-- The audit trail's function in the database: the one source of its current definition (the migrations
-- apply it; test/infra/functions.test.ts checks that the migrated database equals this file). To change
-- it, edit it here, then write its migration with `npm run db:function-migration -- NAME testigo_append_only`.

-- Append-only tables (audit_entries, report_revisions, report_reviews): rows are added, never changed or
-- removed. Statement-level BEFORE UPDATE OR DELETE OR TRUNCATE triggers call it.
CREATE OR REPLACE FUNCTION "testigo_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;
