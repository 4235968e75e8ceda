-- Forms become data (issue 12): a report's kind names a form (forms.key) and its form_version a published
-- version of it. The six built-in kinds are inserted as forms by the next migration.

-- AlterTable: the kind keeps its values (the enum's labels are the built-in forms' keys); the indexes on it
-- are rebuilt by the type change.
ALTER TABLE "reports" ALTER COLUMN "kind" SET DATA TYPE VARCHAR(40) USING "kind"::text;

-- DropEnum
DROP TYPE "report_kind";

-- CreateTable
CREATE TABLE "forms" (
    "key" VARCHAR(40) NOT NULL,
    "role" VARCHAR(16),
    "unit" VARCHAR(8) NOT NULL,
    "created_by_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "forms_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "form_versions" (
    "form_key" VARCHAR(40) NOT NULL,
    "version" INTEGER NOT NULL,
    "definition" JSONB NOT NULL,
    "retired_at" TIMESTAMPTZ(3),
    "created_by_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "form_versions_pkey" PRIMARY KEY ("form_key","version")
);

-- AddForeignKey
ALTER TABLE "form_versions" ADD CONSTRAINT "form_versions_form_key_fkey" FOREIGN KEY ("form_key") REFERENCES "forms"("key") ON DELETE RESTRICT ON UPDATE CASCADE;

-- A published version is immutable: only its retirement may be recorded (once); nothing is deleted.
CREATE OR REPLACE FUNCTION "testigo_form_versions_immutable"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'form versions are immutable: % v% cannot be deleted', OLD.form_key, OLD.version USING ERRCODE = 'P0001';
  END IF;
  IF NEW.form_key IS DISTINCT FROM OLD.form_key OR NEW.version IS DISTINCT FROM OLD.version
     OR NEW.definition IS DISTINCT FROM OLD.definition OR NEW.created_by_id IS DISTINCT FROM OLD.created_by_id
     OR NEW.created_at IS DISTINCT FROM OLD.created_at OR (OLD.retired_at IS NOT NULL AND NEW.retired_at IS DISTINCT FROM OLD.retired_at) THEN
    RAISE EXCEPTION 'form versions are immutable: % v% can only be retired', OLD.form_key, OLD.version USING ERRCODE = 'P0001';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER "form_versions_immutable" BEFORE UPDATE OR DELETE ON "form_versions"
FOR EACH ROW EXECUTE FUNCTION "testigo_form_versions_immutable"();
