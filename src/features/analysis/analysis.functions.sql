-- The process analysis' functions in the database: the one source of their current definitions (the migrations
-- apply them; test/infra/functions.test.ts checks that the migrated database equals this file). To change one,
-- edit it here, then write its migration with `npm run db:function-migration -- NAME FUNCTION...`.
--
-- The tallies behind GET /v1/analysis: for each unit of a form (a centre, or a table for forms whose unit is a
-- table) its counted report is its latest unrejected report of that form (by observed_at, then received_at,
-- then id). analysis_units keeps that report and the keys it adds ("<question>|<value>", and "#units");
-- analysis_tallies one row per form, region and stripe with the units under each key, a flat jsonb object (integer
-- and time answers are keys too: "<question>|i:<n>", "<question>|t:<minute>"), so that a counted report changes
-- 4 rows. analysis_questions keeps each form version's questions (keys and types), filled when a version is
-- published, so that no statement expands the versions' definitions. Every statement on "reports" that can
-- change a counted report recounts only the units it touches, after locking their rows in one order, so
-- concurrent writers cannot leave them stale.


-- The answer keys one answer adds for a question of `type` (the type is part of each key, so a question
-- retyped by a later version never mixes): b:true|b:false, s:<option>, m and m:<option> (multiple),
-- i:<integer>, t:<minute of the day>, x (text), c and c:<code> (codes), y (tally). An answer of the wrong
-- shape adds nothing (unanswered).
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

-- The keys a counted report adds to its regions' tallies: '#units' (a reporting unit), then
-- "<question>|<value>" for each answer to a question of its version (`keys` and `types`: the version's questions
-- from analysis_questions, in order; null: none known). No key repeats.
CREATE OR REPLACE FUNCTION "testigo_analysis_keys"(keys text[], types text[], answers jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ARRAY['#units'] || ARRAY(
    SELECT q.key || '|' || v.value
    FROM unnest(keys, types) WITH ORDINALITY AS q(key, type, n)
    CROSS JOIN LATERAL unnest(testigo_analysis_values(q.type, answers -> q.key)) WITH ORDINALITY AS v(value, m)
    ORDER BY q.n, v.m)
$$;

-- Adds the counts of `delta` to `counts` (flat jsonb objects of integers), touching only the delta's keys; a key
-- whose count becomes 0 is removed, so that equal counts are equal objects.
CREATE OR REPLACE FUNCTION "testigo_analysis_add"(counts jsonb, delta jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (counts - coalesce(array_agg(s.key) FILTER (WHERE s.total = 0), '{}'::text[]))
         || coalesce(jsonb_object_agg(s.key, s.total) FILTER (WHERE s.total <> 0), '{}'::jsonb)
  FROM (SELECT d.key, coalesce((counts ->> d.key)::int, 0) + d.value::int AS total FROM jsonb_each_text(delta) AS d(key, value)) s
$$;

-- Recounts the units of forms `kinds[i]` at centres `centres[i]` (tables `tables[i]`, for table forms), after a
-- statement that wrote the reports `ids`: locks their analysis_units rows in one order, finds each one's counted
-- report again and, only where it is another report or one of `ids`, applies the difference of its keys to the
-- tallies of its parish, municipality, state and the nation (4 rows, locked in one order after the units).
CREATE OR REPLACE FUNCTION "testigo_analysis_apply"(kinds text[], centres text[], tables integer[], ids uuid[]) RETURNS void
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
           a.state_code AS before_state, a.municipality_code AS before_municipality, a.parish_code AS before_parish,
           k.id, k.form_version, k.answers, k.state_code, k.municipality_code, k.parish_code
    FROM touched t
    JOIN analysis_units a ON a.form_key = t.form_key AND a.centre_code = t.centre_code AND a.table_number = t.table_number
    LEFT JOIN LATERAL (
      SELECT r.id, r.form_version, r.answers, r.state_code, r.municipality_code, r.parish_code FROM reports r
      WHERE r.centre_code = t.centre_code AND r.kind = t.form_key AND r.review_state <> 'rejected'
        AND (t.unit <> 'table' OR r.table_number = t.table_number)
      ORDER BY r.observed_at DESC, r.received_at DESC, r.id DESC LIMIT 1) k ON TRUE),
  recounted AS (
    -- Only a unit whose counted report is another one, or one this statement wrote, can count otherwise (so an
    -- older report of a unit costs the lock and this comparison).
    SELECT c.*, CASE WHEN c.id IS NULL THEN '{}'::text[] ELSE testigo_analysis_keys(q.keys, q.types, c.answers) END AS cells
    FROM counted c
    LEFT JOIN analysis_questions q ON q.form_key = c.form_key AND q.version = c.form_version
    WHERE c.id IS DISTINCT FROM c.before_id OR c.id = ANY (ids)),
  changed AS (
    SELECT * FROM recounted
    WHERE id IS DISTINCT FROM before_id OR cells IS DISTINCT FROM before_cells
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
    GROUP BY s.form_key, l.rank, l.level, l.code, s.cell HAVING sum(s.sign) <> 0)
  INSERT INTO analysis_tallies AS t (form_key, level, code, stripe, counts)
  SELECT d.form_key, d.level, d.code, my_stripe, jsonb_object_agg(d.cell, d.units)
  FROM deltas d
  GROUP BY d.form_key, d.rank, d.level, d.code
  ORDER BY d.form_key, d.rank, d.code
  ON CONFLICT (form_key, level, code, stripe) DO UPDATE SET counts = testigo_analysis_add(t.counts, excluded.counts);
END
$$;

-- The trigger function of reports_analysis_insert, _update and _delete (statement-level, transition tables):
-- the units of the rows whose change can move a counted report (an UPDATE that changes neither rejection, answers,
-- observed_at, form_version, kind, centre, table nor regions, such as a flag or a review between unrejected
-- states, is skipped before any lock).
CREATE OR REPLACE FUNCTION "testigo_analysis_on_reports"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  kinds text[];
  centres text[];
  tables integer[];
  ids uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.kind), array_agg(n.centre_code), array_agg(n.table_number), array_agg(n.id) INTO kinds, centres, tables, ids
    FROM new_rows n;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT array_agg(u.kind), array_agg(u.centre_code), array_agg(u.table_number), array_agg(n.id) INTO kinds, centres, tables, ids
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    CROSS JOIN LATERAL (VALUES (n.kind, n.centre_code, n.table_number), (o.kind, o.centre_code, o.table_number)) AS u(kind, centre_code, table_number)
    WHERE (n.review_state = 'rejected') IS DISTINCT FROM (o.review_state = 'rejected') OR n.answers IS DISTINCT FROM o.answers
       OR n.observed_at IS DISTINCT FROM o.observed_at OR n.form_version IS DISTINCT FROM o.form_version OR n.kind IS DISTINCT FROM o.kind
       OR n.centre_code IS DISTINCT FROM o.centre_code OR n.table_number IS DISTINCT FROM o.table_number
       OR (n.state_code, n.municipality_code, n.parish_code) IS DISTINCT FROM (o.state_code, o.municipality_code, o.parish_code);
  ELSE
    SELECT array_agg(o.kind), array_agg(o.centre_code), array_agg(o.table_number), array_agg(o.id) INTO kinds, centres, tables, ids
    FROM old_rows o;
  END IF;
  IF kinds IS NOT NULL THEN
    PERFORM testigo_analysis_apply(kinds, centres, tables, ids);
  END IF;
  RETURN NULL;
END
$$;

-- The trigger function of form_versions_analysis_questions (statement-level, after INSERT): each published
-- version's questions, in order, for the reports' triggers.
CREATE OR REPLACE FUNCTION "testigo_analysis_on_form_versions"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analysis_questions AS q (form_key, version, keys, types)
  SELECT n.form_key, n.version,
         ARRAY(SELECT e.value->>'key' FROM jsonb_array_elements(coalesce(n.definition->'questions', '[]'::jsonb)) WITH ORDINALITY AS e(value, i) ORDER BY e.i),
         ARRAY(SELECT e.value->>'type' FROM jsonb_array_elements(coalesce(n.definition->'questions', '[]'::jsonb)) WITH ORDINALITY AS e(value, i) ORDER BY e.i)
  FROM new_rows n
  ORDER BY 1, 2
  ON CONFLICT (form_key, version) DO UPDATE SET keys = excluded.keys, types = excluded.types;
  RETURN NULL;
END
$$;

-- Recomputes every analysis from the reports (by `npm run cli -- summaries:rebuild`, and by the migration that
-- created them), with the rules written once more set-based, the versions' questions included. Takes the tables
-- exclusively: writers wait.
CREATE OR REPLACE FUNCTION "testigo_analysis_rebuild"() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  LOCK TABLE reports, form_versions IN SHARE ROW EXCLUSIVE MODE;
  LOCK TABLE analysis_questions, analysis_units, analysis_tallies IN ACCESS EXCLUSIVE MODE;
  DELETE FROM analysis_questions;
  DELETE FROM analysis_tallies;
  DELETE FROM analysis_units;
  INSERT INTO analysis_questions (form_key, version, keys, types)
  SELECT v.form_key, v.version,
         ARRAY(SELECT e.value->>'key' FROM jsonb_array_elements(coalesce(v.definition->'questions', '[]'::jsonb)) WITH ORDINALITY AS e(value, i) ORDER BY e.i),
         ARRAY(SELECT e.value->>'type' FROM jsonb_array_elements(coalesce(v.definition->'questions', '[]'::jsonb)) WITH ORDINALITY AS e(value, i) ORDER BY e.i)
  FROM form_versions v;
  INSERT INTO analysis_units (form_key, centre_code, table_number, report_id, version, state_code, municipality_code, parish_code, cells)
  SELECT k.kind, k.centre_code, k.unit_table, k.id, k.form_version, k.state_code, k.municipality_code, k.parish_code,
         testigo_analysis_keys(q.keys, q.types, k.answers)
  FROM (
    SELECT DISTINCT ON (r.kind, r.centre_code, unit_table) r.*, CASE WHEN f.unit = 'table' THEN r.table_number ELSE 0 END AS unit_table
    FROM reports r JOIN forms f ON f.key = r.kind
    WHERE r.review_state <> 'rejected' AND (f.unit <> 'table' OR r.table_number IS NOT NULL)
    ORDER BY r.kind, r.centre_code, unit_table, r.observed_at DESC, r.received_at DESC, r.id DESC) k
  LEFT JOIN analysis_questions q ON q.form_key = k.kind AND q.version = k.form_version;
  INSERT INTO analysis_tallies (form_key, level, code, stripe, counts)
  SELECT form_key, level, code, 0, jsonb_object_agg(cell, units)
  FROM (
    SELECT a.form_key, l.level, l.code, c.cell, count(*)::int AS units
    FROM analysis_units a CROSS JOIN LATERAL unnest(a.cells) AS c(cell)
    CROSS JOIN LATERAL (VALUES ('national', ''), ('state', a.state_code), ('municipality', a.municipality_code),
                               ('parish', a.parish_code)) AS l(level, code)
    GROUP BY 1, 2, 3, 4) s
  GROUP BY 1, 2, 3;
END
$$;
