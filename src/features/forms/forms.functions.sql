-- The forms' functions in the database: the one source of their current definitions (the migrations apply
-- them; test/infra/functions.test.ts checks that the migrated database equals this file). To change one, edit
-- it here, then write its migration with `npm run db:function-migration -- NAME FUNCTION...`.

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
