-- AlterTable
ALTER TABLE "elections" ADD COLUMN     "opening_time" VARCHAR(5) NOT NULL DEFAULT '06:00';

-- CreateTable
CREATE TABLE "summary_tallies" (
    "level" VARCHAR(16) NOT NULL,
    "code" VARCHAR(32) NOT NULL,
    "stripe" SMALLINT NOT NULL,
    "arrival" INTEGER NOT NULL DEFAULT 0,
    "opening" INTEGER NOT NULL DEFAULT 0,
    "voting" INTEGER NOT NULL DEFAULT 0,
    "closing" INTEGER NOT NULL DEFAULT 0,
    "results" INTEGER NOT NULL DEFAULT 0,
    "incident" INTEGER NOT NULL DEFAULT 0,
    "incidents_open" INTEGER NOT NULL DEFAULT 0,
    "severity_low" INTEGER NOT NULL DEFAULT 0,
    "severity_medium" INTEGER NOT NULL DEFAULT 0,
    "severity_high" INTEGER NOT NULL DEFAULT 0,
    "severity_critical" INTEGER NOT NULL DEFAULT 0,
    "categories" JSONB NOT NULL DEFAULT '{}',
    "flagged" INTEGER NOT NULL DEFAULT 0,
    "conflicting" INTEGER NOT NULL DEFAULT 0,
    "unreviewed" INTEGER NOT NULL DEFAULT 0,
    "verified" INTEGER NOT NULL DEFAULT 0,
    "rejected" INTEGER NOT NULL DEFAULT 0,
    "centres_reporting" INTEGER NOT NULL DEFAULT 0,
    "centres_opened" INTEGER NOT NULL DEFAULT 0,
    "tables_counted" INTEGER NOT NULL DEFAULT 0,
    "registered_voters" BIGINT NOT NULL DEFAULT 0,
    "valid_votes" BIGINT NOT NULL DEFAULT 0,
    "null_votes" BIGINT NOT NULL DEFAULT 0,
    "blank_votes" BIGINT NOT NULL DEFAULT 0,
    "votes" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "summary_tallies_pkey" PRIMARY KEY ("level","code","stripe")
);

-- CreateTable
CREATE TABLE "summary_openings" (
    "level" VARCHAR(16) NOT NULL,
    "code" VARCHAR(32) NOT NULL,
    "minute" SMALLINT NOT NULL,
    "centres" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "summary_openings_pkey" PRIMARY KEY ("level","code","minute")
);

-- CreateTable
CREATE TABLE "centre_tallies" (
    "centre_code" VARCHAR(32) NOT NULL,
    "reports" INTEGER NOT NULL DEFAULT 0,
    "openings" INTEGER NOT NULL DEFAULT 0,
    "opened_minute" SMALLINT,

    CONSTRAINT "centre_tallies_pkey" PRIMARY KEY ("centre_code")
);

-- CreateTable
CREATE TABLE "table_results" (
    "centre_code" VARCHAR(32) NOT NULL,
    "table_number" INTEGER NOT NULL,
    "report_id" UUID NOT NULL,
    "registered_voters" INTEGER NOT NULL,
    "valid_votes" INTEGER NOT NULL,
    "null_votes" INTEGER NOT NULL,
    "blank_votes" INTEGER NOT NULL,
    "votes" JSONB NOT NULL,

    CONSTRAINT "table_results_pkey" PRIMARY KEY ("centre_code","table_number")
);

-- CreateTable
CREATE TABLE "summary_registry" (
    "level" VARCHAR(16) NOT NULL,
    "code" VARCHAR(32) NOT NULL,
    "centres" INTEGER NOT NULL,
    "tables" INTEGER NOT NULL,
    "registered_voters" BIGINT NOT NULL,

    CONSTRAINT "summary_registry_pkey" PRIMARY KEY ("level","code")
);


-- Summaries, kept exact by triggers. Every change of a report (insert, revision, review, flag) applies
-- its difference to the tallies of its centre, parish, municipality, state and the nation at commit
-- (a deferred constraint trigger: row locks on shared tallies are held only while committing). Tally
-- rows are striped by backend so concurrent writers rarely meet on one row; readers sum the stripes.
-- The counted result of a table and each centre's opening time are recomputed from the reports under
-- the locks that serialise their writers, so concurrent changes cannot leave them stale.

-- a + sign * b, key by key, for objects of integers; keys that reach 0 are dropped.
CREATE FUNCTION "testigo_jsonb_add"(a jsonb, b jsonb, sign integer DEFAULT 1) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_object_agg(key, total), '{}'::jsonb) FROM (
    SELECT key, sum(value) AS total FROM (
      SELECT key, value::bigint AS value FROM jsonb_each_text(coalesce(a, '{}'::jsonb))
      UNION ALL
      SELECT key, sign * value::bigint FROM jsonb_each_text(coalesce(b, '{}'::jsonb))) parts
    GROUP BY key HAVING sum(value) <> 0) sums
$$;

-- What one report adds to its regions' tallies, in this order: arrival, opening, voting, closing, results,
-- incident, incidents_open, severity_low, severity_medium, severity_high, severity_critical, flagged,
-- conflicting, unreviewed, verified, rejected. A rejected report counts only as rejected.
CREATE FUNCTION "testigo_report_vector"(r "reports") RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN r.id IS NULL THEN array_fill(0, ARRAY[16])
    WHEN r.review_state = 'rejected' THEN array_fill(0, ARRAY[15]) || 1
    ELSE ARRAY[
      (r.kind = 'arrival')::int, (r.kind = 'opening')::int, (r.kind = 'voting')::int, (r.kind = 'closing')::int,
      (r.kind = 'results')::int, (r.kind = 'incident')::int,
      (r.kind = 'incident' AND r.answers->>'ongoing' = 'true')::int,
      (r.kind = 'incident' AND r.answers->>'severity' = 'low')::int,
      (r.kind = 'incident' AND r.answers->>'severity' = 'medium')::int,
      (r.kind = 'incident' AND r.answers->>'severity' = 'high')::int,
      (r.kind = 'incident' AND r.answers->>'severity' = 'critical')::int,
      (cardinality(r.flags) > 0 OR r.review_state = 'flagged')::int,
      ('conflict' = ANY (r.flags))::int,
      (r.review_state = 'unreviewed')::int, (r.review_state = 'verified')::int, 0]
  END
$$;

-- The incident categories one report adds: { category: 1 } for an unrejected incident.
CREATE FUNCTION "testigo_report_categories"(r "reports") RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN r.id IS NOT NULL AND r.kind = 'incident' AND r.review_state <> 'rejected' AND r.answers ? 'category'
    THEN jsonb_build_object(r.answers->>'category', 1) ELSE '{}'::jsonb END
$$;

-- Minute of the day of an opening report's local "HH:MM".
CREATE FUNCTION "testigo_opening_minute"(answers jsonb) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (split_part(answers->>'openedAt', ':', 1)::int * 60 + split_part(answers->>'openedAt', ':', 2)::int)::smallint
  WHERE answers->>'openedAt' ~ '^\d{2}:\d{2}$'
$$;

-- Applies the change of one report from o to n (either may be NULL) to the summaries.
CREATE FUNCTION "testigo_summaries_apply"(o "reports", n "reports") RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  r "reports" := coalesce(n, o);
  my_stripe smallint := pg_backend_pid() % 8;
  d integer[];
  cats jsonb;
  was_live boolean := o.id IS NOT NULL AND o.review_state <> 'rejected';
  is_live boolean := n.id IS NOT NULL AND n.review_state <> 'rejected';
  reports_delta integer := is_live::int - was_live::int;
  openings_delta integer := (is_live AND n.kind = 'opening')::int - (was_live AND o.kind = 'opening')::int;
  v_centres_reporting integer := 0;
  v_centres_opened integer := 0;
  tally record;
  new_minute smallint;
  counted record;
  previous record;
  v_tables_counted integer := 0;
  registered bigint := 0;
  valid bigint := 0;
  nulls bigint := 0;
  blanks bigint := 0;
  v_votes jsonb := '{}'::jsonb;
BEGIN
  SELECT array_agg(a - b ORDER BY i) INTO d
  FROM unnest(testigo_report_vector(n), testigo_report_vector(o)) WITH ORDINALITY AS u(a, b, i);
  cats := testigo_jsonb_add(testigo_report_categories(n), testigo_report_categories(o), -1);

  -- The table's counted result: the latest verified report, else the latest unrejected one without a
  -- conflict, else none. The advisory lock is the one report writers of this table already hold.
  IF r.kind = 'results' AND r.table_number IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtext('testigo.results'), hashtext(r.centre_code || '#' || r.table_number));
    SELECT x.id, x.answers INTO counted FROM reports x
    WHERE x.kind = 'results' AND x.centre_code = r.centre_code AND x.table_number = r.table_number
      AND x.review_state <> 'rejected' AND (x.review_state = 'verified' OR NOT ('conflict' = ANY (x.flags)))
    ORDER BY x.review_state = 'verified' DESC, x.received_at DESC, x.id DESC LIMIT 1;
    SELECT t.report_id, t.registered_voters, t.valid_votes, t.null_votes, t.blank_votes, t.votes INTO previous
    FROM table_results t WHERE t.centre_code = r.centre_code AND t.table_number = r.table_number;
    v_tables_counted := (counted.id IS NOT NULL)::int - (previous.report_id IS NOT NULL)::int;
    registered := coalesce((counted.answers->>'registeredVoters')::bigint, 0) - coalesce(previous.registered_voters, 0);
    valid := coalesce((counted.answers->>'validVotes')::bigint, 0) - coalesce(previous.valid_votes, 0);
    nulls := coalesce((counted.answers->>'nullVotes')::bigint, 0) - coalesce(previous.null_votes, 0);
    blanks := coalesce((counted.answers->>'blankVotes')::bigint, 0) - coalesce(previous.blank_votes, 0);
    v_votes := testigo_jsonb_add(counted.answers->'votes', previous.votes, -1);
    IF counted.id IS NULL AND previous.report_id IS NOT NULL THEN
      DELETE FROM table_results WHERE centre_code = r.centre_code AND table_number = r.table_number;
    ELSIF counted.id IS DISTINCT FROM previous.report_id OR registered <> 0 OR valid <> 0 OR nulls <> 0 OR blanks <> 0 OR v_votes <> '{}'::jsonb THEN
      INSERT INTO table_results AS t (centre_code, table_number, report_id, registered_voters, valid_votes, null_votes, blank_votes, votes)
      VALUES (r.centre_code, r.table_number, counted.id, (counted.answers->>'registeredVoters')::int, (counted.answers->>'validVotes')::int,
              (counted.answers->>'nullVotes')::int, coalesce((counted.answers->>'blankVotes')::int, 0), coalesce(counted.answers->'votes', '{}'::jsonb))
      ON CONFLICT (centre_code, table_number) DO UPDATE SET report_id = excluded.report_id, registered_voters = excluded.registered_voters,
        valid_votes = excluded.valid_votes, null_votes = excluded.null_votes, blank_votes = excluded.blank_votes, votes = excluded.votes;
    END IF;
  END IF;

  -- The centre: does it have reports, an opening report, and when did it open (its earliest opening)?
  IF reports_delta <> 0 OR openings_delta <> 0
     OR (r.kind = 'opening' AND testigo_opening_minute(o.answers) IS DISTINCT FROM testigo_opening_minute(n.answers)) THEN
    INSERT INTO centre_tallies AS c (centre_code, reports, openings) VALUES (r.centre_code, reports_delta, openings_delta)
    ON CONFLICT (centre_code) DO UPDATE SET reports = c.reports + excluded.reports, openings = c.openings + excluded.openings
    RETURNING c.reports, c.openings, c.opened_minute INTO tally;
    v_centres_reporting := (tally.reports > 0)::int - (tally.reports - reports_delta > 0)::int;
    v_centres_opened := (tally.openings > 0)::int - (tally.openings - openings_delta > 0)::int;
    IF r.kind = 'opening' THEN
      SELECT min(testigo_opening_minute(x.answers)) INTO new_minute FROM reports x
      WHERE x.centre_code = r.centre_code AND x.kind = 'opening' AND x.review_state <> 'rejected';
      IF new_minute IS DISTINCT FROM tally.opened_minute THEN
        UPDATE centre_tallies SET opened_minute = new_minute WHERE centre_code = r.centre_code;
        INSERT INTO summary_openings AS s (level, code, minute, centres)
        SELECT l.level, l.code, m.minute, m.delta
        FROM (VALUES ('national', ''), ('state', r.state_code), ('municipality', r.municipality_code), ('parish', r.parish_code), ('centre', r.centre_code)) AS l(level, code)
        CROSS JOIN (VALUES (tally.opened_minute, -1), (new_minute, 1)) AS m(minute, delta)
        WHERE m.minute IS NOT NULL
        ON CONFLICT (level, code, minute) DO UPDATE SET centres = s.centres + excluded.centres;
      END IF;
    END IF;
  END IF;

  IF d = array_fill(0, ARRAY[16]) AND cats = '{}'::jsonb AND v_centres_reporting = 0 AND v_centres_opened = 0 AND v_tables_counted = 0
     AND registered = 0 AND valid = 0 AND nulls = 0 AND blanks = 0 AND v_votes = '{}'::jsonb THEN
    RETURN;
  END IF;
  INSERT INTO summary_tallies AS t (level, code, stripe, arrival, opening, voting, closing, results, incident, incidents_open,
    severity_low, severity_medium, severity_high, severity_critical, flagged, conflicting, unreviewed, verified, rejected, categories,
    centres_reporting, centres_opened, tables_counted, registered_voters, valid_votes, null_votes, blank_votes, votes)
  SELECT l.level, l.code, my_stripe, d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15], d[16], cats,
    v_centres_reporting, v_centres_opened, v_tables_counted, registered, valid, nulls, blanks, v_votes
  FROM (VALUES (1, 'national', ''), (2, 'state', r.state_code), (3, 'municipality', r.municipality_code), (4, 'parish', r.parish_code),
               (5, 'centre', r.centre_code)) AS l(rank, level, code)
  ORDER BY l.rank
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
END
$$;

CREATE FUNCTION "testigo_summaries_on_report"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM testigo_summaries_apply(NULL, NEW);
  ELSIF TG_OP = 'UPDATE' THEN
    PERFORM testigo_summaries_apply(OLD, NEW);
  ELSE
    PERFORM testigo_summaries_apply(OLD, NULL);
  END IF;
  RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER "reports_summaries_insert" AFTER INSERT ON "reports" DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION "testigo_summaries_on_report"();
CREATE CONSTRAINT TRIGGER "reports_summaries_update" AFTER UPDATE ON "reports" DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (OLD.review_state IS DISTINCT FROM NEW.review_state OR OLD.flags IS DISTINCT FROM NEW.flags
                     OR OLD.answers IS DISTINCT FROM NEW.answers OR OLD.received_at IS DISTINCT FROM NEW.received_at)
  EXECUTE FUNCTION "testigo_summaries_on_report"();
CREATE CONSTRAINT TRIGGER "reports_summaries_delete" AFTER DELETE ON "reports" DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION "testigo_summaries_on_report"();

-- The registry's size per region, rewritten by every registry import in its transaction.
CREATE FUNCTION "testigo_summary_registry_refresh"() RETURNS void
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
$$;

-- Recomputes every summary from the reports (after this migration on a database with reports, and by
-- `npm run cli -- summaries:rebuild`). Takes the tables exclusively: writers wait until it is done.
CREATE FUNCTION "testigo_summaries_rebuild"() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  r "reports";
BEGIN
  LOCK TABLE reports IN SHARE ROW EXCLUSIVE MODE;
  LOCK TABLE summary_tallies, summary_openings, centre_tallies, table_results IN ACCESS EXCLUSIVE MODE;
  DELETE FROM summary_tallies;
  DELETE FROM summary_openings;
  DELETE FROM centre_tallies;
  DELETE FROM table_results;
  FOR r IN SELECT * FROM reports ORDER BY received_at, id LOOP
    PERFORM testigo_summaries_apply(NULL, r);
  END LOOP;
  PERFORM testigo_summary_registry_refresh();
END
$$;

SELECT testigo_summaries_rebuild();
