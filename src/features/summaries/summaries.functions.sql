-- The summaries' functions in the database: the one source of their current definitions (the migrations
-- apply them; test/infra/functions.test.ts checks that the migrated database equals this file). To change
-- one, edit it here, then write its migration with `npm run db:function-migration -- NAME FUNCTION...`.
--
-- The tallies behind GET /v1/summaries: every statement on "reports" (testigo_summaries_on_reports)
-- applies its net difference to the tallies of the centres, parishes, municipalities, states and the nation
-- it touches, in the same transaction, set-based (one upsert per region per statement, however many rows).
-- Tally rows are striped so that concurrent writers never meet on one row: each writing transaction claims a
-- stripe no other transaction holds (testigo_tallies_stripe); readers sum the stripes.
-- What needs more than the changed rows (a table's counted result, a centre's opening time) is recounted
-- from the reports after taking the row locks that serialise its writers, so concurrent changes cannot
-- leave it stale.


-- a + sign * b, key by key, for objects of integers; keys that reach 0 are dropped.
CREATE OR REPLACE FUNCTION "testigo_jsonb_add"(a jsonb, b jsonb, sign integer DEFAULT 1) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_object_agg(key, total), '{}'::jsonb) FROM (
    SELECT key, sum(value) AS total FROM (
      SELECT key, value::bigint AS value FROM jsonb_each_text(coalesce(a, '{}'::jsonb))
      UNION ALL
      SELECT key, sign * value::bigint FROM jsonb_each_text(coalesce(b, '{}'::jsonb))) parts
    GROUP BY key HAVING sum(value) <> 0) sums
$$;

-- Minute of the day of an opening report's local "HH:MM".
CREATE OR REPLACE FUNCTION "testigo_opening_minute"(answers jsonb) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (split_part(answers->>'openedAt', ':', 1)::int * 60 + split_part(answers->>'openedAt', ':', 2)::int)::smallint
  WHERE answers->>'openedAt' ~ '^\d{2}:\d{2}$'
$$;

-- Applies a change of reports, from the versions `olds` to the versions `news`, to the summaries. A rejected
-- report counts only as rejected; a centre opened at its earliest opening report; a table's counted result
-- is its latest verified report, else its latest unrejected one without a conflict, else none.
CREATE OR REPLACE FUNCTION "testigo_summaries_apply"(olds "reports"[], news "reports"[]) RETURNS void
LANGUAGE plpgsql
-- Its statements are planned once per connection, not per call (they change little with the arrays' sizes).
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  my_stripe smallint;
BEGIN
  IF cardinality(olds) = 0 AND cardinality(news) = 0 THEN
    RETURN;
  END IF;
  -- This transaction's own stripe (claimed without waiting): its tally rows and version are no one else's.
  my_stripe := testigo_tallies_stripe();
  -- Lock what is recounted, always in the same order: the registry rows of the tables whose results
  -- change, then the tallies of the centres whose reports change.
  PERFORM 1 FROM polling_tables p
  WHERE (p.centre_code, p.number) IN (SELECT x.centre_code, x.table_number FROM unnest(news || olds) x WHERE x.kind = 'results')
  ORDER BY p.centre_code, p.number FOR NO KEY UPDATE;
  INSERT INTO centre_tallies AS c (centre_code)
  SELECT DISTINCT x.centre_code FROM unnest(news || olds) x ORDER BY 1
  ON CONFLICT (centre_code) DO UPDATE SET reports = c.reports;

  WITH ch AS (
    -- Every version that counts, with its sign; an old and new version alike in all a summary reads cancel out.
    SELECT x.*, 1 AS sign, x.review_state <> 'rejected' AS live FROM unnest(news) x
    WHERE NOT EXISTS (SELECT 1 FROM unnest(olds) y WHERE y.id = x.id AND y.review_state = x.review_state AND y.flags = x.flags AND y.answers = x.answers)
    UNION ALL
    SELECT y.*, -1, y.review_state <> 'rejected' FROM unnest(olds) y
    WHERE NOT EXISTS (SELECT 1 FROM unnest(news) x WHERE x.id = y.id AND y.review_state = x.review_state AND y.flags = x.flags AND y.answers = x.answers)),
  ch_levels AS (
    SELECT ch.*, l.rank, l.level, l.code FROM ch
    CROSS JOIN LATERAL (VALUES (1, 'national', ''), (2, 'state', ch.state_code), (3, 'municipality', ch.municipality_code),
                               (4, 'parish', ch.parish_code), (5, 'centre', ch.centre_code)) AS l(rank, level, code)),
  own AS (
    -- What the reports themselves add.
    SELECT rank, level, code,
      sum(sign * (live AND kind = 'arrival')::int) AS arrival, sum(sign * (live AND kind = 'opening')::int) AS opening,
      sum(sign * (live AND kind = 'voting')::int) AS voting, sum(sign * (live AND kind = 'closing')::int) AS closing,
      sum(sign * (live AND kind = 'results')::int) AS results, sum(sign * (live AND kind = 'incident')::int) AS incident,
      sum(sign * (live AND kind = 'incident' AND answers->>'ongoing' = 'true')::int) AS incidents_open,
      sum(sign * (live AND kind = 'incident' AND answers->>'severity' = 'low')::int) AS severity_low,
      sum(sign * (live AND kind = 'incident' AND answers->>'severity' = 'medium')::int) AS severity_medium,
      sum(sign * (live AND kind = 'incident' AND answers->>'severity' = 'high')::int) AS severity_high,
      sum(sign * (live AND kind = 'incident' AND answers->>'severity' = 'critical')::int) AS severity_critical,
      sum(sign * (live AND (cardinality(flags) > 0 OR review_state = 'flagged'))::int) AS flagged,
      sum(sign * (live AND 'conflict' = ANY (flags))::int) AS conflicting,
      sum(sign * (review_state = 'unreviewed')::int) AS unreviewed, sum(sign * (review_state = 'verified')::int) AS verified,
      sum(sign * (review_state = 'rejected')::int) AS rejected,
      0 AS centres_reporting, 0 AS centres_opened, 0 AS tables_counted, 0 AS registered_voters, 0 AS valid_votes, 0 AS null_votes, 0 AS blank_votes
    FROM ch_levels GROUP BY rank, level, code),
  categories AS (
    SELECT level, code, jsonb_object_agg(category, total) AS categories FROM (
      SELECT level, code, answers->>'category' AS category, sum(sign) AS total FROM ch_levels
      WHERE live AND kind = 'incident' GROUP BY level, code, answers->>'category' HAVING sum(sign) <> 0) c
    GROUP BY level, code),
  centre_changes AS (
    -- Each centre's count of reports and of openings; its opening time recounted when an opening changed.
    SELECT d.*, c.reports AS before_reports, c.openings AS before_openings, c.opened_minute AS before_minute,
           CASE WHEN d.opening_touched THEN (
             SELECT min(testigo_opening_minute(r.answers)) FROM reports r
             WHERE r.centre_code = d.centre_code AND r.kind = 'opening' AND r.review_state <> 'rejected') ELSE c.opened_minute END AS minute
    FROM (SELECT centre_code, min(state_code) AS state_code, min(municipality_code) AS municipality_code, min(parish_code) AS parish_code,
                 sum(sign * live::int) AS reports, sum(sign * (live AND kind = 'opening')::int) AS openings, bool_or(kind = 'opening') AS opening_touched
          FROM ch GROUP BY centre_code) d
    JOIN centre_tallies c ON c.centre_code = d.centre_code),
  centre_update AS (
    UPDATE centre_tallies c SET reports = c.reports + x.reports, openings = c.openings + x.openings, opened_minute = x.minute
    FROM centre_changes x
    WHERE c.centre_code = x.centre_code AND (x.reports <> 0 OR x.openings <> 0 OR x.minute IS DISTINCT FROM x.before_minute)),
  centre_levels AS (
    SELECT x.*, l.rank, l.level, l.code FROM centre_changes x
    CROSS JOIN LATERAL (VALUES (1, 'national', ''), (2, 'state', x.state_code), (3, 'municipality', x.municipality_code),
                               (4, 'parish', x.parish_code), (5, 'centre', x.centre_code)) AS l(rank, level, code)),
  opening_update AS (
    INSERT INTO summary_openings AS s (level, code, minute, centres)
    SELECT x.level, x.code, m.minute, sum(m.delta) FROM centre_levels x
    CROSS JOIN LATERAL (VALUES (x.before_minute, -1), (x.minute, 1)) AS m(minute, delta)
    WHERE x.minute IS DISTINCT FROM x.before_minute AND m.minute IS NOT NULL
    GROUP BY x.rank, x.level, x.code, m.minute HAVING sum(m.delta) <> 0
    ORDER BY x.rank, x.code, m.minute
    ON CONFLICT (level, code, minute) DO UPDATE SET centres = s.centres + excluded.centres),
  centre_deltas AS (
    SELECT rank, level, code, 0 AS arrival, 0 AS opening, 0 AS voting, 0 AS closing, 0 AS results, 0 AS incident, 0 AS incidents_open,
      0 AS severity_low, 0 AS severity_medium, 0 AS severity_high, 0 AS severity_critical, 0 AS flagged, 0 AS conflicting, 0 AS unreviewed,
      0 AS verified, 0 AS rejected,
      sum((before_reports + reports > 0)::int - (before_reports > 0)::int) AS centres_reporting,
      sum((before_openings + openings > 0)::int - (before_openings > 0)::int) AS centres_opened,
      0 AS tables_counted, 0 AS registered_voters, 0 AS valid_votes, 0 AS null_votes, 0 AS blank_votes
    FROM centre_levels GROUP BY rank, level, code),
  counted AS (
    SELECT t.centre_code, t.table_number, k.id, k.answers FROM (SELECT DISTINCT centre_code, table_number FROM ch WHERE kind = 'results' AND table_number IS NOT NULL) t
    LEFT JOIN LATERAL (
      SELECT x.id, x.answers FROM reports x
      WHERE x.kind = 'results' AND x.centre_code = t.centre_code AND x.table_number = t.table_number
        AND x.review_state <> 'rejected' AND (x.review_state = 'verified' OR NOT ('conflict' = ANY (x.flags)))
      ORDER BY x.review_state = 'verified' DESC, x.received_at DESC, x.id DESC LIMIT 1) k ON TRUE),
  table_changes AS (
    SELECT k.centre_code, k.table_number, k.id, (k.answers->>'registeredVoters')::int AS registered_voters, (k.answers->>'validVotes')::int AS valid_votes,
           (k.answers->>'nullVotes')::int AS null_votes, coalesce((k.answers->>'blankVotes')::int, 0) AS blank_votes, k.answers->'votes' AS votes,
           p.report_id AS before_id, p.registered_voters AS before_registered, p.valid_votes AS before_valid, p.null_votes AS before_null,
           p.blank_votes AS before_blank, p.votes AS before_votes
    FROM counted k LEFT JOIN table_results p ON p.centre_code = k.centre_code AND p.table_number = k.table_number
    WHERE k.id IS DISTINCT FROM p.report_id OR k.answers->'votes' IS DISTINCT FROM p.votes
       OR (k.answers->>'registeredVoters')::int IS DISTINCT FROM p.registered_voters OR (k.answers->>'validVotes')::int IS DISTINCT FROM p.valid_votes
       OR (k.answers->>'nullVotes')::int IS DISTINCT FROM p.null_votes OR coalesce((k.answers->>'blankVotes')::int, 0) IS DISTINCT FROM p.blank_votes),
  table_upsert AS (
    INSERT INTO table_results AS t (centre_code, table_number, report_id, registered_voters, valid_votes, null_votes, blank_votes, votes)
    SELECT centre_code, table_number, id, registered_voters, valid_votes, null_votes, blank_votes, coalesce(votes, '{}'::jsonb)
    FROM table_changes WHERE id IS NOT NULL
    ON CONFLICT (centre_code, table_number) DO UPDATE SET report_id = excluded.report_id, registered_voters = excluded.registered_voters,
      valid_votes = excluded.valid_votes, null_votes = excluded.null_votes, blank_votes = excluded.blank_votes, votes = excluded.votes),
  table_delete AS (
    DELETE FROM table_results t USING table_changes x
    WHERE x.id IS NULL AND t.centre_code = x.centre_code AND t.table_number = x.table_number),
  table_levels AS (
    SELECT x.*, l.rank, l.level, l.code FROM table_changes x JOIN centres c ON c.code = x.centre_code
    CROSS JOIN LATERAL (VALUES (1, 'national', ''), (2, 'state', c.state_code), (3, 'municipality', c.municipality_code),
                               (4, 'parish', c.parish_code), (5, 'centre', c.code)) AS l(rank, level, code)),
  table_deltas AS (
    SELECT rank, level, code, 0 AS arrival, 0 AS opening, 0 AS voting, 0 AS closing, 0 AS results, 0 AS incident, 0 AS incidents_open,
      0 AS severity_low, 0 AS severity_medium, 0 AS severity_high, 0 AS severity_critical, 0 AS flagged, 0 AS conflicting, 0 AS unreviewed,
      0 AS verified, 0 AS rejected, 0 AS centres_reporting, 0 AS centres_opened,
      sum((id IS NOT NULL)::int - (before_id IS NOT NULL)::int) AS tables_counted,
      sum(coalesce(registered_voters, 0) - coalesce(before_registered, 0)) AS registered_voters,
      sum(coalesce(valid_votes, 0) - coalesce(before_valid, 0)) AS valid_votes, sum(coalesce(null_votes, 0) - coalesce(before_null, 0)) AS null_votes,
      sum(coalesce(blank_votes, 0) - coalesce(before_blank, 0)) AS blank_votes
    FROM table_levels GROUP BY rank, level, code),
  votes AS (
    SELECT level, code, jsonb_object_agg(key, total) AS votes FROM (
      SELECT x.level, x.code, v.key, sum(v.delta) AS total FROM table_levels x
      CROSS JOIN LATERAL (SELECT key, value::bigint AS delta FROM jsonb_each_text(coalesce(x.votes, '{}'::jsonb))
                          UNION ALL SELECT key, -value::bigint FROM jsonb_each_text(coalesce(x.before_votes, '{}'::jsonb))) v
      GROUP BY x.level, x.code, v.key HAVING sum(v.delta) <> 0) s
    GROUP BY level, code),
  deltas AS (
    SELECT rank, level, code, sum(arrival) AS arrival, sum(opening) AS opening, sum(voting) AS voting, sum(closing) AS closing,
      sum(results) AS results, sum(incident) AS incident, sum(incidents_open) AS incidents_open, sum(severity_low) AS severity_low,
      sum(severity_medium) AS severity_medium, sum(severity_high) AS severity_high, sum(severity_critical) AS severity_critical,
      sum(flagged) AS flagged, sum(conflicting) AS conflicting, sum(unreviewed) AS unreviewed, sum(verified) AS verified,
      sum(rejected) AS rejected, sum(centres_reporting) AS centres_reporting, sum(centres_opened) AS centres_opened,
      sum(tables_counted) AS tables_counted, sum(registered_voters) AS registered_voters, sum(valid_votes) AS valid_votes,
      sum(null_votes) AS null_votes, sum(blank_votes) AS blank_votes
    FROM (SELECT * FROM own UNION ALL SELECT * FROM centre_deltas UNION ALL SELECT * FROM table_deltas) parts
    GROUP BY rank, level, code)
  INSERT INTO summary_tallies AS t (level, code, stripe, arrival, opening, voting, closing, results, incident, incidents_open,
    severity_low, severity_medium, severity_high, severity_critical, flagged, conflicting, unreviewed, verified, rejected, categories,
    centres_reporting, centres_opened, tables_counted, registered_voters, valid_votes, null_votes, blank_votes, votes)
  SELECT d.level, d.code, my_stripe, d.arrival, d.opening, d.voting, d.closing, d.results, d.incident, d.incidents_open,
    d.severity_low, d.severity_medium, d.severity_high, d.severity_critical, d.flagged, d.conflicting, d.unreviewed, d.verified, d.rejected,
    coalesce(c.categories, '{}'::jsonb), d.centres_reporting, d.centres_opened, d.tables_counted, d.registered_voters, d.valid_votes,
    d.null_votes, d.blank_votes, coalesce(v.votes, '{}'::jsonb)
  FROM deltas d
  LEFT JOIN categories c ON c.level = d.level AND c.code = d.code
  LEFT JOIN votes v ON v.level = d.level AND v.code = d.code
  WHERE (d.arrival, d.opening, d.voting, d.closing, d.results, d.incident, d.incidents_open, d.severity_low, d.severity_medium, d.severity_high,
         d.severity_critical, d.flagged, d.conflicting, d.unreviewed, d.verified, d.rejected, d.centres_reporting, d.centres_opened,
         d.tables_counted, d.registered_voters, d.valid_votes, d.null_votes, d.blank_votes)
        IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
     OR c.categories IS NOT NULL OR v.votes IS NOT NULL
  ORDER BY d.rank, d.code
  ON CONFLICT (level, code, stripe) DO UPDATE SET
    arrival = t.arrival + excluded.arrival, opening = t.opening + excluded.opening, voting = t.voting + excluded.voting,
    closing = t.closing + excluded.closing, results = t.results + excluded.results, incident = t.incident + excluded.incident,
    incidents_open = t.incidents_open + excluded.incidents_open, severity_low = t.severity_low + excluded.severity_low,
    severity_medium = t.severity_medium + excluded.severity_medium, severity_high = t.severity_high + excluded.severity_high,
    severity_critical = t.severity_critical + excluded.severity_critical, flagged = t.flagged + excluded.flagged,
    conflicting = t.conflicting + excluded.conflicting, unreviewed = t.unreviewed + excluded.unreviewed,
    verified = t.verified + excluded.verified, rejected = t.rejected + excluded.rejected,
    categories = CASE WHEN excluded.categories = '{}'::jsonb THEN t.categories ELSE testigo_jsonb_add(t.categories, excluded.categories) END,
    centres_reporting = t.centres_reporting + excluded.centres_reporting, centres_opened = t.centres_opened + excluded.centres_opened,
    tables_counted = t.tables_counted + excluded.tables_counted, registered_voters = t.registered_voters + excluded.registered_voters,
    valid_votes = t.valid_votes + excluded.valid_votes, null_votes = t.null_votes + excluded.null_votes,
    blank_votes = t.blank_votes + excluded.blank_votes,
    votes = CASE WHEN excluded.votes = '{}'::jsonb THEN t.votes ELSE testigo_jsonb_add(t.votes, excluded.votes) END;
  PERFORM testigo_tallies_bump();
END
$$;

-- The trigger function of reports_summaries_insert, _update and _delete (statement-level, transition tables).
CREATE OR REPLACE FUNCTION "testigo_summaries_on_reports"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM testigo_summaries_apply('{}'::reports[], (SELECT coalesce(array_agg(n::reports), '{}') FROM new_rows n));
  ELSIF TG_OP = 'UPDATE' THEN
    PERFORM testigo_summaries_apply((SELECT coalesce(array_agg(o::reports), '{}') FROM old_rows o), (SELECT coalesce(array_agg(n::reports), '{}') FROM new_rows n));
  ELSE
    PERFORM testigo_summaries_apply((SELECT coalesce(array_agg(o::reports), '{}') FROM old_rows o), '{}'::reports[]);
  END IF;
  RETURN NULL;
END
$$;

-- The tallies' version: the sum of the stripes of tally_versions, strictly increasing with every committed
-- change of what summaries answer. Read in the same snapshot as the tallies, it names them exactly.
CREATE OR REPLACE FUNCTION "testigo_tallies_version"() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(sum(n), 0)::bigint FROM tally_versions
$$;

-- The caller's transaction's stripe of summary_tallies and tally_versions, claimed at its first call and kept
-- (a transaction-local setting) until it ends: the first stripe, from its backend's own (pid % 8) on, whose
-- transaction-level advisory lock (testigo.stripes, stripe) no other transaction holds, taken without waiting.
-- A claimed stripe is written by one transaction at a time, so writers never wait for one another on a tally row
-- or on the version, whatever they locked before or lock after, in however many statements (a stripe shared by
-- backends let a transaction that had bumped in one statement wait in the next for a row held by another writer
-- of that stripe, waiting for the bump: a deadlock). Starting from the backend's own stripe keeps each backend on
-- its rows, as before: with the lowest free stripe first, most writes met on stripe 0's rows, whose chains of
-- row versions grew (ingest slowed by a third within a bench run). Only with all 64 held does it wait. The rows
-- of tally_versions beyond the first 8 are created by the first bump of their stripe (the version's readers scan
-- them all).
CREATE OR REPLACE FUNCTION "testigo_tallies_stripe"() RETURNS smallint
LANGUAGE plpgsql AS $$
DECLARE
  claimed smallint := nullif(current_setting('testigo.stripe', true), '')::smallint;
  home integer := pg_backend_pid() % 8;
  space integer;
BEGIN
  IF claimed IS NULL THEN
    space := hashtext('testigo.stripes');
    FOR step IN 0 .. 63 LOOP
      IF pg_try_advisory_xact_lock(space, (home + step) % 64) THEN
        claimed := (home + step) % 64;
        EXIT;
      END IF;
    END LOOP;
    IF claimed IS NULL THEN
      claimed := home;
      PERFORM pg_advisory_xact_lock(space, claimed);
    END IF;
    PERFORM set_config('testigo.stripe', claimed::text, true);
  END IF;
  RETURN claimed;
END
$$;

-- Adds 1 to the tallies' version in the caller's transaction, on its stripe (testigo_tallies_stripe). Every
-- write that changes what summaries (or any answer cached by the version) show calls it: the report triggers,
-- registry imports, changes of the election, users and assignments, form publishing.
CREATE OR REPLACE FUNCTION "testigo_tallies_bump"() RETURNS void
LANGUAGE sql AS $$
  INSERT INTO tally_versions AS v (stripe, n) VALUES (testigo_tallies_stripe(), 1)
  ON CONFLICT (stripe) DO UPDATE SET n = v.n + 1
$$;

-- The trigger function of the statement-level triggers that bump the version on tables summaries read
-- besides the reports (elections, users, assignments).
CREATE OR REPLACE FUNCTION "testigo_tallies_bump_trigger"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM testigo_tallies_bump();
  RETURN NULL;
END
$$;

-- The registry's size per region, rewritten by every registry import in its transaction (which bumps the version).
CREATE OR REPLACE FUNCTION "testigo_summary_registry_refresh"() RETURNS void
LANGUAGE sql AS $$
  DELETE FROM summary_registry;
  INSERT INTO summary_registry (level, code, centres, tables, registered_voters)
  SELECT l.level, l.code, count(DISTINCT t.centre_code), count(*), sum(t.registered_voters)
  FROM polling_tables t JOIN centres c ON c.code = t.centre_code
  CROSS JOIN LATERAL (VALUES ('national', ''), ('state', c.state_code), ('municipality', c.municipality_code),
                             ('parish', c.parish_code), ('centre', c.code)) AS l(level, code)
  GROUP BY l.level, l.code;
  -- Regions and centres without tables still have a row.
  INSERT INTO summary_registry (level, code, centres, tables, registered_voters)
  SELECT g.level::text, g.code, 0, 0, 0 FROM regions g WHERE NOT EXISTS (SELECT 1 FROM summary_registry s WHERE s.level = g.level::text AND s.code = g.code)
  UNION ALL
  SELECT 'centre', c.code, 1, 0, 0 FROM centres c WHERE NOT EXISTS (SELECT 1 FROM summary_registry s WHERE s.level = 'centre' AND s.code = c.code);
  SELECT testigo_tallies_bump();
$$;

-- Recomputes every summary from the reports (by `npm run cli -- summaries:rebuild`). Takes the tables
-- exclusively: writers wait until it is done.
CREATE OR REPLACE FUNCTION "testigo_summaries_rebuild"() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  chunk "reports"[];
BEGIN
  LOCK TABLE reports IN SHARE ROW EXCLUSIVE MODE;
  LOCK TABLE summary_tallies, summary_openings, centre_tallies, table_results IN ACCESS EXCLUSIVE MODE;
  DELETE FROM summary_tallies;
  DELETE FROM summary_openings;
  DELETE FROM centre_tallies;
  DELETE FROM table_results;
  -- By centre, 20,000 reports at a time (whole centres per chunk are not needed: counts add up).
  FOR chunk IN SELECT array_agg(x.r ORDER BY (x.r).centre_code, (x.r).id) FROM (
      SELECT r, (row_number() OVER (ORDER BY r.centre_code, r.id) - 1) / 20000 AS part FROM reports r) x
    GROUP BY x.part ORDER BY x.part LOOP
    PERFORM testigo_summaries_apply('{}'::reports[], chunk);
  END LOOP;
  PERFORM testigo_summary_registry_refresh();
END
$$;
