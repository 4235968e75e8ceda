-- Process analysis (issue 12): each unit's counted report and the tallies of its answers per region, kept by
-- statement-level triggers on reports (src/features/analysis/analysis.functions.sql), filled from the reports here.

-- CreateTable
CREATE TABLE "analysis_units" (
    "form_key" VARCHAR(40) NOT NULL,
    "centre_code" VARCHAR(32) NOT NULL,
    "table_number" INTEGER NOT NULL,
    "report_id" UUID,
    "version" INTEGER,
    "state_code" VARCHAR(32),
    "municipality_code" VARCHAR(32),
    "parish_code" VARCHAR(32),
    "cells" TEXT[] DEFAULT ARRAY[]::TEXT[],

    CONSTRAINT "analysis_units_pkey" PRIMARY KEY ("form_key","centre_code","table_number")
);

-- CreateTable
CREATE TABLE "analysis_tallies" (
    "form_key" VARCHAR(40) NOT NULL,
    "level" VARCHAR(16) NOT NULL,
    "code" VARCHAR(32) NOT NULL,
    "question" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "stripe" SMALLINT NOT NULL,
    "units" INTEGER NOT NULL DEFAULT 0,
    "histogram" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "analysis_tallies_pkey" PRIMARY KEY ("form_key","level","code","question","value","stripe")
);


-- Functions (their source: src/features/analysis/analysis.functions.sql)
CREATE OR REPLACE FUNCTION "testigo_analysis_values"(type text, answer jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN answer IS NULL THEN '{}'::text[]
    WHEN type = 'boolean' AND jsonb_typeof(answer) = 'boolean' THEN ARRAY['b:' || answer::text]
    WHEN type = 'single' AND jsonb_typeof(answer) = 'string' THEN ARRAY['s:' || (answer #>> '{}')]
    WHEN type IN ('multiple', 'codes') AND jsonb_typeof(answer) = 'array' THEN
      left(type, 1) || ARRAY(SELECT DISTINCT left(type, 1) || ':' || e FROM jsonb_array_elements_text(answer) e)
    WHEN type = 'integer' AND jsonb_typeof(answer) = 'number' AND answer::text ~ '^-?[0-9]+$' THEN ARRAY['i:' || answer::text]
    WHEN type = 'time' AND jsonb_typeof(answer) = 'string' AND (answer #>> '{}') ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$' THEN
      ARRAY['t:' || (substr(answer #>> '{}', 1, 2)::int * 60 + substr(answer #>> '{}', 4, 2)::int)::text]
    WHEN type = 'text' AND jsonb_typeof(answer) = 'string' THEN ARRAY['x']
    WHEN type = 'tally' AND jsonb_typeof(answer) = 'object' THEN ARRAY['y']
    ELSE '{}'::text[] END
$$;

-- The cells a counted report adds: '=u' (a reporting unit), then "question=value" for each answer to a
-- question of its version (`questions`: form_versions.definition->'questions'; null: none known).
CREATE OR REPLACE FUNCTION "testigo_analysis_cells"(questions jsonb, answers jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ARRAY['=u'] || ARRAY(
    SELECT (q.value->>'key') || '=' || v.value
    FROM jsonb_array_elements(coalesce(questions, '[]'::jsonb)) WITH ORDINALITY AS q(value, n)
    CROSS JOIN LATERAL unnest(testigo_analysis_values(q.value->>'type', answers -> (q.value->>'key'))) WITH ORDINALITY AS v(value, m)
    ORDER BY q.n, v.m)
$$;

-- Recounts the units of forms `kinds[i]` at centres `centres[i]` (tables `tables[i]`, for table forms): locks
-- their analysis_units rows in one order, finds each one's counted report again, and applies the difference
-- of its cells to the tallies of its parish, municipality, state and the nation.
CREATE OR REPLACE FUNCTION "testigo_analysis_apply"(kinds text[], centres text[], tables integer[]) RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  my_stripe smallint := pg_backend_pid() % 8;
BEGIN
  IF cardinality(kinds) = 0 THEN
    RETURN;
  END IF;
  -- The units, locked (created when new) in one order; reports of unknown forms, and of table forms without
  -- a table, belong to none.
  INSERT INTO analysis_units AS a (form_key, centre_code, table_number)
  SELECT DISTINCT f.key, x.centre_code, CASE WHEN f.unit = 'table' THEN x.table_number ELSE 0 END
  FROM unnest(kinds, centres, tables) AS x(kind, centre_code, table_number)
  JOIN forms f ON f.key = x.kind
  WHERE f.unit <> 'table' OR x.table_number IS NOT NULL
  ORDER BY 1, 2, 3
  ON CONFLICT (form_key, centre_code, table_number) DO UPDATE SET report_id = a.report_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;

  WITH touched AS (
    SELECT DISTINCT f.key AS form_key, f.unit, x.centre_code, CASE WHEN f.unit = 'table' THEN x.table_number ELSE 0 END AS table_number
    FROM unnest(kinds, centres, tables) AS x(kind, centre_code, table_number)
    JOIN forms f ON f.key = x.kind
    WHERE f.unit <> 'table' OR x.table_number IS NOT NULL),
  counted AS (
    -- Each unit's counted report now, and what the unit counted before.
    SELECT a.form_key, a.centre_code, a.table_number, a.report_id AS before_id, a.cells AS before_cells,
           a.version AS before_version, a.state_code AS before_state, a.municipality_code AS before_municipality, a.parish_code AS before_parish,
           k.id, k.form_version, k.state_code, k.municipality_code, k.parish_code,
           CASE WHEN k.id IS NULL THEN '{}'::text[] ELSE testigo_analysis_cells(v.definition->'questions', k.answers) END AS cells
    FROM touched t
    JOIN analysis_units a ON a.form_key = t.form_key AND a.centre_code = t.centre_code AND a.table_number = t.table_number
    LEFT JOIN LATERAL (
      SELECT r.id, r.form_version, r.answers, r.state_code, r.municipality_code, r.parish_code FROM reports r
      WHERE r.centre_code = t.centre_code AND r.kind = t.form_key AND r.review_state <> 'rejected'
        AND (t.unit <> 'table' OR r.table_number = t.table_number)
      ORDER BY r.observed_at DESC, r.received_at DESC, r.id DESC LIMIT 1) k ON TRUE
    LEFT JOIN form_versions v ON v.form_key = t.form_key AND v.version = k.form_version),
  changed AS (
    SELECT * FROM counted
    WHERE id IS DISTINCT FROM before_id OR cells IS DISTINCT FROM before_cells OR form_version IS DISTINCT FROM before_version
       OR (state_code, municipality_code, parish_code) IS DISTINCT FROM (before_state, before_municipality, before_parish)),
  unit_update AS (
    UPDATE analysis_units a SET report_id = c.id, version = c.form_version, cells = c.cells, state_code = c.state_code,
      municipality_code = c.municipality_code, parish_code = c.parish_code
    FROM changed c
    WHERE a.form_key = c.form_key AND a.centre_code = c.centre_code AND a.table_number = c.table_number),
  signed AS (
    SELECT form_key, state_code, municipality_code, parish_code, unnest(cells) AS cell, 1 AS sign FROM changed WHERE id IS NOT NULL
    UNION ALL
    SELECT form_key, before_state, before_municipality, before_parish, unnest(before_cells), -1 FROM changed WHERE before_id IS NOT NULL),
  deltas AS (
    SELECT s.form_key, l.rank, l.level, l.code, s.cell, sum(s.sign)::int AS units FROM signed s
    CROSS JOIN LATERAL (VALUES (1, 'national', ''), (2, 'state', s.state_code), (3, 'municipality', s.municipality_code),
                               (4, 'parish', s.parish_code)) AS l(rank, level, code)
    GROUP BY s.form_key, l.rank, l.level, l.code, s.cell HAVING sum(s.sign) <> 0),
  -- Integer and time answers as one row per question with its histogram (and the answered units).
  rows AS (
    SELECT d.form_key, d.rank, d.level, d.code, split_part(d.cell, '=', 1) AS question,
           CASE WHEN d.cell ~ '=[it]:' THEN substr(d.cell, strpos(d.cell, '=') + 1, 1) ELSE substr(d.cell, strpos(d.cell, '=') + 1) END AS value,
           sum(d.units)::int AS units,
           coalesce(jsonb_object_agg(substr(d.cell, strpos(d.cell, '=') + 3), d.units) FILTER (WHERE d.cell ~ '=[it]:'), '{}'::jsonb) AS histogram
    FROM deltas d GROUP BY 1, 2, 3, 4, 5, 6)
  INSERT INTO analysis_tallies AS t (form_key, level, code, question, value, stripe, units, histogram)
  SELECT r.form_key, r.level, r.code, r.question, r.value, my_stripe, r.units, r.histogram
  FROM rows r
  ORDER BY r.form_key, r.rank, r.code, r.question, r.value
  ON CONFLICT (form_key, level, code, question, value, stripe) DO UPDATE SET units = t.units + excluded.units,
    histogram = CASE WHEN excluded.histogram = '{}'::jsonb THEN t.histogram ELSE testigo_jsonb_add(t.histogram, excluded.histogram) END;
END
$$;

-- The trigger function of reports_analysis_insert, _update and _delete (statement-level, transition tables):
-- the units of the rows whose change can move a counted report (an UPDATE that changes neither rejection, answers,
-- observed_at, form_version, kind, centre nor table, such as a flag or a review between unrejected states, is skipped).
CREATE OR REPLACE FUNCTION "testigo_analysis_on_reports"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  kinds text[];
  centres text[];
  tables integer[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.kind), array_agg(n.centre_code), array_agg(n.table_number) INTO kinds, centres, tables FROM new_rows n;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT array_agg(u.kind), array_agg(u.centre_code), array_agg(u.table_number) INTO kinds, centres, tables
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    CROSS JOIN LATERAL (VALUES (n.kind, n.centre_code, n.table_number), (o.kind, o.centre_code, o.table_number)) AS u(kind, centre_code, table_number)
    WHERE (n.review_state = 'rejected') IS DISTINCT FROM (o.review_state = 'rejected') OR n.answers IS DISTINCT FROM o.answers
       OR n.observed_at IS DISTINCT FROM o.observed_at OR n.form_version IS DISTINCT FROM o.form_version OR n.kind IS DISTINCT FROM o.kind
       OR n.centre_code IS DISTINCT FROM o.centre_code OR n.table_number IS DISTINCT FROM o.table_number;
  ELSE
    SELECT array_agg(o.kind), array_agg(o.centre_code), array_agg(o.table_number) INTO kinds, centres, tables FROM old_rows o;
  END IF;
  IF kinds IS NOT NULL THEN
    PERFORM testigo_analysis_apply(kinds, centres, tables);
  END IF;
  RETURN NULL;
END
$$;

-- Recomputes every analysis from the reports (by `npm run cli -- summaries:rebuild`, and by the migration that
-- created them), with the rules written once more set-based. Takes the tables exclusively: writers wait.
CREATE OR REPLACE FUNCTION "testigo_analysis_rebuild"() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  LOCK TABLE reports IN SHARE ROW EXCLUSIVE MODE;
  LOCK TABLE analysis_units, analysis_tallies IN ACCESS EXCLUSIVE MODE;
  DELETE FROM analysis_tallies;
  DELETE FROM analysis_units;
  INSERT INTO analysis_units (form_key, centre_code, table_number, report_id, version, state_code, municipality_code, parish_code, cells)
  SELECT k.kind, k.centre_code, k.unit_table, k.id, k.form_version, k.state_code, k.municipality_code, k.parish_code,
         testigo_analysis_cells(v.definition->'questions', k.answers)
  FROM (
    SELECT DISTINCT ON (r.kind, r.centre_code, unit_table) r.*, CASE WHEN f.unit = 'table' THEN r.table_number ELSE 0 END AS unit_table
    FROM reports r JOIN forms f ON f.key = r.kind
    WHERE r.review_state <> 'rejected' AND (f.unit <> 'table' OR r.table_number IS NOT NULL)
    ORDER BY r.kind, r.centre_code, unit_table, r.observed_at DESC, r.received_at DESC, r.id DESC) k
  LEFT JOIN form_versions v ON v.form_key = k.kind AND v.version = k.form_version;
  INSERT INTO analysis_tallies (form_key, level, code, question, value, stripe, units, histogram)
  SELECT form_key, level, code, question, value, 0, sum(units),
         coalesce(jsonb_object_agg(point, units) FILTER (WHERE point IS NOT NULL), '{}'::jsonb)
  FROM (
    SELECT a.form_key, l.level, l.code, split_part(c.cell, '=', 1) AS question,
           CASE WHEN c.cell ~ '=[it]:' THEN substr(c.cell, strpos(c.cell, '=') + 1, 1) ELSE substr(c.cell, strpos(c.cell, '=') + 1) END AS value,
           CASE WHEN c.cell ~ '=[it]:' THEN substr(c.cell, strpos(c.cell, '=') + 3) END AS point, count(*) AS units
    FROM analysis_units a CROSS JOIN LATERAL unnest(a.cells) AS c(cell)
    CROSS JOIN LATERAL (VALUES ('national', ''), ('state', a.state_code), ('municipality', a.municipality_code),
                               ('parish', a.parish_code)) AS l(level, code)
    GROUP BY 1, 2, 3, 4, 5, 6) s
  GROUP BY 1, 2, 3, 4, 5;
END
$$;
-- Named to fire before the summaries' triggers (alphabetical order): every report statement locks the analysis
-- rows first, then the summaries'.
CREATE TRIGGER "reports_analysis_insert" AFTER INSERT ON "reports" REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "testigo_analysis_on_reports"();
CREATE TRIGGER "reports_analysis_update" AFTER UPDATE ON "reports" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "testigo_analysis_on_reports"();
CREATE TRIGGER "reports_analysis_delete" AFTER DELETE ON "reports" REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "testigo_analysis_on_reports"();

-- The reports already stored, counted.
SELECT testigo_analysis_rebuild();
