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
-- published, so that no statement expands the versions' definitions. A new report is counted when the log
-- integrates it (testigo_analysis_on_leaves: off the writer's path, in batches), and until then readers add it
-- from the log's queue in their own snapshot (testigo_analysis_pending); every UPDATE or DELETE of "reports"
-- that can change a counted report recounts the units it touches in its own transaction. Every recount locks
-- the units' rows in one order and reads the reports after the locks, so concurrent writers cannot leave a
-- unit stale, and recounting a unit twice changes nothing.


-- The keys a counted report adds to its regions' tallies: '#units' (a reporting unit), then
-- "<question>|<value>" for each answer to a question of its version (`keys` and `types`: the version's questions
-- from analysis_questions, in order; null: none known), the value typed (so a question retyped by a later version
-- never mixes with its old answers): b:true|b:false, s:<option>, m and m:<option> (multiple), i:<integer>,
-- t:<minute of the day>, x (text), c and c:<code> (codes), y (tally). An answer of the wrong shape adds nothing
-- (unanswered). No key repeats. PL/pgSQL, not SQL: its expressions run without a query each.
CREATE OR REPLACE FUNCTION "testigo_analysis_keys"(keys text[], types text[], answers jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  result text[] := ARRAY['#units'];
  answer jsonb;
  shape text;
  prefix text;
BEGIN
  FOR i IN 1 .. coalesce(cardinality(keys), 0) LOOP
    answer := answers -> keys[i];
    CONTINUE WHEN answer IS NULL;
    shape := jsonb_typeof(answer);
    prefix := keys[i] || '|';
    IF types[i] = 'boolean' AND shape = 'boolean' THEN
      result := result || (prefix || 'b:' || answer::text);
    ELSIF types[i] = 'single' AND shape = 'string' THEN
      result := result || (prefix || 's:' || (answer #>> '{}'));
    ELSIF types[i] IN ('multiple', 'codes') AND shape = 'array' THEN
      prefix := prefix || left(types[i], 1);
      result := result || prefix || ARRAY(SELECT DISTINCT prefix || ':' || e FROM jsonb_array_elements_text(answer) AS e ORDER BY 1);
    ELSIF types[i] = 'integer' AND shape = 'number' AND answer::text ~ '^-?[0-9]+$' THEN
      result := result || (prefix || 'i:' || answer::text);
    ELSIF types[i] = 'time' AND shape = 'string' AND (answer #>> '{}') ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$' THEN
      result := result || (prefix || 't:' || (substr(answer #>> '{}', 1, 2)::int * 60 + substr(answer #>> '{}', 4, 2)::int)::text);
    ELSIF types[i] = 'text' AND shape = 'string' THEN
      result := result || (prefix || 'x');
    ELSIF types[i] = 'tally' AND shape = 'object' THEN
      result := result || (prefix || 'y');
    END IF;
  END LOOP;
  RETURN result;
END
$$;

-- Adds the counts of `delta` to `counts` (flat jsonb objects of integers), touching only the delta's keys; a key
-- whose count becomes 0 is removed, so that equal counts are equal objects. `counts` is read once: a big tally
-- (a national row of integer answers has thousands of keys) is stored compressed and out of line, and looking
-- each delta key up in the stored value decompressed it once per key (33 ms for a 2,000-key row and a
-- 300-key delta, against 1.6 ms now); the OFFSET 0 subquery keeps the one decompressed copy.
CREATE OR REPLACE FUNCTION "testigo_analysis_add"(counts jsonb, delta jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (c.v || a.adds) - a.zeros
  FROM (SELECT counts || '{}'::jsonb AS v OFFSET 0) c
  CROSS JOIN LATERAL (
    SELECT coalesce(jsonb_object_agg(s.key, s.total) FILTER (WHERE s.total <> 0), '{}'::jsonb) AS adds,
           coalesce(array_agg(s.key) FILTER (WHERE s.total = 0), '{}'::text[]) AS zeros
    FROM (SELECT d.key, coalesce((c.v ->> d.key)::int, 0) + d.value::int AS total FROM jsonb_each_text(delta) AS d(key, value)) s) a
$$;

-- What moving units from what they counted (`befores`) to what they count now (`afters`: the same units, in the
-- same order; a null or report-less before counted nothing) changes in the tallies: per form, level (rank 1
-- national … 4 parish) and region, the units to add under each key (negative: a key a unit no longer counts),
-- nothing where a before and its after cancel. Every level in one pass over the signed cells (a grouping set per
-- level; GROUPING() tells which columns a row's set left out: 7 national, 3 state, 5 municipality, 6 parish).
-- For the recounts (testigo_analysis_move) and for the readers' pending delta (testigo_analysis_pending).
CREATE OR REPLACE FUNCTION "testigo_analysis_deltas"(befores analysis_units[], afters analysis_units[])
RETURNS TABLE (form_key text, rank integer, level text, code text, cell text, units integer)
LANGUAGE sql IMMUTABLE AS $$
  WITH signed AS (
    SELECT n.form_key, n.state_code, n.municipality_code, n.parish_code, unnest(n.cells) AS cell, 1 AS sign FROM unnest(afters) n
    WHERE n.report_id IS NOT NULL
    UNION ALL
    SELECT o.form_key, o.state_code, o.municipality_code, o.parish_code, unnest(o.cells), -1 FROM unnest(befores) o
    WHERE o.report_id IS NOT NULL),
  sums AS (
    SELECT s.form_key, GROUPING(s.state_code, s.municipality_code, s.parish_code) AS grouped, s.state_code, s.municipality_code,
           s.parish_code, s.cell, sum(s.sign)::int AS units
    FROM signed s
    GROUP BY GROUPING SETS ((s.form_key, s.cell), (s.form_key, s.state_code, s.cell), (s.form_key, s.municipality_code, s.cell),
                            (s.form_key, s.parish_code, s.cell))
    HAVING sum(s.sign) <> 0)
  SELECT m.form_key::text, l.rank, l.level,
         (CASE l.rank WHEN 1 THEN '' WHEN 2 THEN m.state_code WHEN 3 THEN m.municipality_code ELSE m.parish_code END)::text, m.cell, m.units
  FROM sums m
  JOIN (VALUES (7, 1, 'national'), (3, 2, 'state'), (5, 3, 'municipality'), (6, 4, 'parish')) AS l(grouped, rank, level) ON l.grouped = m.grouped
$$;

-- Moves units, already locked by the caller, from what they counted (`befores`) to what they count now (`afters`:
-- the same units' rows, in the same order): stores the afters, and adds testigo_analysis_deltas to the tallies of
-- their parish, municipality, state and the nation (one row each, locked in one order: form, level national →
-- parish, code). One stripe (0): new reports arrive through the log's integrator, one batch at a time, so only
-- revisions and reviews can meet it on a row, and a reader adds one row per region, not eight.
CREATE OR REPLACE FUNCTION "testigo_analysis_move"(befores analysis_units[], afters analysis_units[]) RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  IF coalesce(cardinality(afters), 0) = 0 THEN
    RETURN;
  END IF;
  UPDATE analysis_units a SET report_id = n.report_id, version = n.version, observed_at = n.observed_at, received_at = n.received_at,
    state_code = n.state_code, municipality_code = n.municipality_code, parish_code = n.parish_code, cells = n.cells
  FROM unnest(afters) n
  WHERE a.form_key = n.form_key AND a.centre_code = n.centre_code AND a.table_number = n.table_number;
  INSERT INTO analysis_tallies AS t (form_key, level, code, stripe, counts)
  SELECT d.form_key, d.level, d.code, 0, jsonb_object_agg(d.cell, d.units)
  FROM testigo_analysis_deltas(befores, afters) d
  GROUP BY d.form_key, d.rank, d.level, d.code
  ORDER BY d.form_key, d.rank, d.code
  ON CONFLICT (form_key, level, code, stripe) DO UPDATE SET counts = testigo_analysis_add(t.counts, excluded.counts);
END
$$;

-- The counted report of a unit (form `form`, whose unit is `unit`, at centre `centre`; table `unit_table` for
-- table forms): its latest unrejected report of the form by observed_at, then received_at, then id; none when
-- every one is rejected. The one statement of the rule, for the recounts and for the readers' pending delta (a
-- SQL function in a LATERAL join, inlined by the planner: the same index scan as written in place).
CREATE OR REPLACE FUNCTION "testigo_analysis_counted"(form text, unit text, centre text, unit_table integer) RETURNS SETOF reports
LANGUAGE sql STABLE AS $$
  SELECT r.* FROM reports r
  WHERE r.centre_code = centre AND r.kind = form AND r.review_state <> 'rejected' AND (unit <> 'table' OR r.table_number = unit_table)
  ORDER BY r.observed_at DESC, r.received_at DESC, r.id DESC LIMIT 1
$$;

-- The units of forms `kinds[i]` at centres `centres[i]` (tables `tables[i]`, for table forms), once each: reports
-- of unknown forms, and of table forms without a table, belong to none.
CREATE OR REPLACE FUNCTION "testigo_analysis_touched"(kinds text[], centres text[], tables integer[])
RETURNS TABLE (form_key text, unit text, centre_code text, table_number integer)
LANGUAGE sql STABLE AS $$
  SELECT DISTINCT f.key::text, f.unit::text, x.centre_code, CASE WHEN f.unit = 'table' THEN x.table_number ELSE 0 END
  FROM unnest(kinds, centres, tables) AS x(kind, centre_code, table_number)
  JOIN forms f ON f.key = x.kind
  WHERE f.unit <> 'table' OR x.table_number IS NOT NULL
$$;

-- The touched units (testigo_analysis_touched) that count otherwise now, in the caller's snapshot: each unit's
-- stored row (`before`; null when it has none) beside what it counts now (`after`: its counted report found again,
-- or no report). Only a unit whose counted report is another one, or one of `ids` (whose keys may have changed),
-- can count otherwise.
CREATE OR REPLACE FUNCTION "testigo_analysis_changes"(kinds text[], centres text[], tables integer[], ids uuid[])
RETURNS TABLE (before analysis_units, after analysis_units)
LANGUAGE sql STABLE AS $$
  SELECT c.before, c.after FROM (
    SELECT a AS before, ROW(t.form_key, t.centre_code, t.table_number, k.id, k.form_version, k.observed_at, k.received_at, k.state_code,
             k.municipality_code, k.parish_code,
             CASE WHEN k.id IS NULL THEN '{}'::text[] ELSE testigo_analysis_keys(q.keys, q.types, k.answers) END)::analysis_units AS after
    FROM testigo_analysis_touched(kinds, centres, tables) t
    LEFT JOIN analysis_units a ON a.form_key = t.form_key AND a.centre_code = t.centre_code AND a.table_number = t.table_number
    LEFT JOIN LATERAL testigo_analysis_counted(t.form_key, t.unit, t.centre_code, t.table_number) k ON TRUE
    LEFT JOIN analysis_questions q ON q.form_key = t.form_key AND q.version = k.form_version
    WHERE k.id IS DISTINCT FROM a.report_id OR k.id = ANY (ids)
    -- Not flattened into the outer query, which would compute each unit's keys twice (its filter and its output).
    OFFSET 0) c
  WHERE c.after IS DISTINCT FROM c.before
$$;

-- What the reports still queued for the log (log_pending, type 'report': not yet in the tallies) change in the
-- tallies of form `form` at `level`, in the caller's snapshot: per region, the counts to add (negative for what a
-- unit counted before), as one more stripe. The touched units' changes are found as testigo_analysis_apply finds
-- them (testigo_analysis_changes, testigo_analysis_deltas), so tallies plus this equal a recount from the reports.
CREATE OR REPLACE FUNCTION "testigo_analysis_pending"(form text, at_level text) RETURNS TABLE (code text, counts jsonb)
LANGUAGE sql STABLE AS $$
  WITH queued AS (
    SELECT array_agg(r.kind::text) AS kinds, array_agg(r.centre_code::text) AS centres, array_agg(r.table_number) AS tables
    -- one index probe per queued row (LIMIT 1 keeps the lateral a nested loop, never a scan of the reports)
    FROM log_pending p
    CROSS JOIN LATERAL (SELECT x.kind, x.centre_code, x.table_number FROM reports x WHERE x.id = p.report_id LIMIT 1) r
    WHERE p.type = 'report' AND r.kind = form),
  changed AS (
    SELECT array_agg(c.before) AS befores, array_agg(c.after) AS afters
    FROM queued q CROSS JOIN LATERAL testigo_analysis_changes(q.kinds, q.centres, q.tables, '{}'::uuid[]) c)
  SELECT d.code, jsonb_object_agg(d.cell, d.units)
  FROM changed c CROSS JOIN LATERAL testigo_analysis_deltas(c.befores, c.afters) d
  WHERE d.level = at_level
  GROUP BY d.code
$$;

-- Recounts the units of forms `kinds[i]` at centres `centres[i]` (tables `tables[i]`, for table forms), after an
-- UPDATE or DELETE of the reports `ids`: locks their analysis_units rows in one order, finds each one's counted
-- report again and moves the units whose counted report is another one, or one of `ids` whose keys changed.
CREATE OR REPLACE FUNCTION "testigo_analysis_apply"(kinds text[], centres text[], tables integer[], ids uuid[]) RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  befores analysis_units[];
  afters analysis_units[];
BEGIN
  IF cardinality(kinds) = 0 THEN
    RETURN;
  END IF;
  -- The locks: a new unit's row inserted, an existing one locked without a new row version (DO UPDATE … WHERE
  -- false locks the conflicting row and writes nothing), all in one pass in one order.
  INSERT INTO analysis_units AS a (form_key, centre_code, table_number)
  SELECT t.form_key, t.centre_code, t.table_number FROM testigo_analysis_touched(kinds, centres, tables) t
  ORDER BY 1, 2, 3
  ON CONFLICT (form_key, centre_code, table_number) DO UPDATE SET report_id = a.report_id WHERE false;
  -- After the locks (the statement's snapshot is taken after them): what each unit counts now.
  SELECT array_agg(c.before ORDER BY (c.after).form_key, (c.after).centre_code, (c.after).table_number),
         array_agg(c.after ORDER BY (c.after).form_key, (c.after).centre_code, (c.after).table_number)
  INTO befores, afters
  FROM testigo_analysis_changes(kinds, centres, tables, ids) c;
  PERFORM testigo_analysis_move(befores, afters);
END
$$;

-- The trigger function of log_leaves_analysis (statement-level, after INSERT, transition table): a new report
-- enters the analysis when the log integrates it, not in its writer's transaction (which then pays nothing for the
-- analysis). The log's integrator appends the leaves of queued rows in batches; the reports of those leaves
-- (type 'report': a first revision) are recounted here, set-based, in the integrator's transaction, which also
-- deletes their rows from log_pending. Until then a report is in log_pending, and readers add what it changes
-- (testigo_analysis_pending) in their own snapshot: every reader sees a recount, exact at every moment.
-- Revisions, reviews and deletions change reports in place and are recounted in their own transactions by
-- reports_analysis_update and _delete.
CREATE OR REPLACE FUNCTION "testigo_analysis_on_leaves"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  kinds text[];
  centres text[];
  tables integer[];
  ids uuid[];
BEGIN
  SELECT array_agg(r.kind), array_agg(r.centre_code), array_agg(r.table_number), array_agg(r.id) INTO kinds, centres, tables, ids
  FROM new_rows n JOIN reports r ON r.id = n.report_id
  WHERE n.type = 'report';
  IF kinds IS NOT NULL THEN
    PERFORM testigo_analysis_apply(kinds, centres, tables, ids);
  END IF;
  RETURN NULL;
END
$$;

-- The trigger function of reports_analysis_update and _delete (statement-level, transition tables): the units of
-- the rows whose change can move a counted report (an UPDATE that changes neither rejection, answers,
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
  IF TG_OP = 'UPDATE' THEN
    SELECT array_agg(u.kind), array_agg(u.centre_code), array_agg(u.table_number), array_agg(n.id) INTO kinds, centres, tables, ids
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    CROSS JOIN LATERAL (VALUES (n.kind, n.centre_code, n.table_number), (o.kind, o.centre_code, o.table_number)) AS u(kind, centre_code, table_number)
    WHERE (n.review_state = 'rejected') IS DISTINCT FROM (o.review_state = 'rejected') OR n.answers IS DISTINCT FROM o.answers
       OR n.observed_at IS DISTINCT FROM o.observed_at OR n.received_at IS DISTINCT FROM o.received_at
       OR n.form_version IS DISTINCT FROM o.form_version OR n.kind IS DISTINCT FROM o.kind
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
  INSERT INTO analysis_units (form_key, centre_code, table_number, report_id, version, observed_at, received_at, state_code,
                              municipality_code, parish_code, cells)
  SELECT k.kind, k.centre_code, k.unit_table, k.id, k.form_version, k.observed_at, k.received_at, k.state_code, k.municipality_code, k.parish_code,
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
