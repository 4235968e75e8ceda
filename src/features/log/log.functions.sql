-- The log's function in the database: the one source of its current definition (the migrations apply it;
-- test/infra/functions.test.ts checks that the migrated database equals this file). To change it, edit it
-- here, then write its migration with `npm run db:function-migration -- NAME testigo_log_enqueue`.

-- Queues every row a statement inserted into report_revisions (number 1: the report, later: a revision),
-- report_reviews or photos for the log, in the writer's own transaction: one row of log_pending each, set-based
-- (one INSERT per statement, however many rows). The integrator turns them into leaves later. Statement-level
-- AFTER INSERT triggers with the transition table new_rows call it; a statement that inserts nothing (a retry
-- answered from the store) queues nothing.
CREATE OR REPLACE FUNCTION "testigo_log_enqueue"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'report_revisions' THEN
    INSERT INTO log_pending (type, report_id, revision, created_at)
    SELECT CASE WHEN n.number = 1 THEN 'report' ELSE 'revision' END, n.report_id, n.number, clock_timestamp()
    FROM new_rows n ORDER BY n.report_id, n.number;
  ELSIF TG_TABLE_NAME = 'report_reviews' THEN
    INSERT INTO log_pending (type, report_id, revision, review_id, created_at)
    SELECT 'review', n.report_id, n.revision, n.id, clock_timestamp() FROM new_rows n ORDER BY n.id;
  ELSIF TG_TABLE_NAME = 'photos' THEN
    INSERT INTO log_pending (type, report_id, photo_id, created_at)
    SELECT 'photo', n.report_id, n.id, clock_timestamp() FROM new_rows n ORDER BY n.id;
  END IF;
  RETURN NULL;
END;
$$;
