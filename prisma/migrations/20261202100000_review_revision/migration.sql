-- AlterTable
ALTER TABLE "report_reviews" ADD COLUMN     "revision" INTEGER;

-- Each review records the revision of the report it judged. Reviews stored before this migration get the
-- best value there is: the latest revision created before the review (revision 1 at the latest).
-- report_reviews is append-only; its guard is lifted for this one backfill, inside this transaction.
ALTER TABLE "report_reviews" DISABLE TRIGGER "report_reviews_append_only";
UPDATE "report_reviews" v SET "revision" = coalesce(
  (SELECT max(x.number) FROM "report_revisions" x WHERE x.report_id = v.report_id AND x.created_at <= v.created_at), 1);
ALTER TABLE "report_reviews" ENABLE TRIGGER "report_reviews_append_only";
ALTER TABLE "report_reviews" ALTER COLUMN "revision" SET NOT NULL;

-- From now on a revision resets its report to unreviewed in the same statement, so a review state other than
-- unreviewed always judged the current revision (and "a verified report wins its table" in the summaries
-- means "verified at its current revision"). Reports revised after their last review before this rule
-- existed are reset the same way, each with its audit row; the summaries triggers follow.
WITH stale AS (
  SELECT r.id, r.review_state::text AS previous, r.revision, last.revision AS reviewed
  FROM "reports" r
  LEFT JOIN LATERAL (SELECT v.revision FROM "report_reviews" v WHERE v.report_id = r.id ORDER BY v.id DESC LIMIT 1) last ON TRUE
  WHERE r.review_state <> 'unreviewed' AND coalesce(last.revision, 0) < r.revision
  FOR UPDATE OF r),
upd AS (
  UPDATE "reports" r SET review_state = 'unreviewed', updated_at = now() FROM stale s WHERE r.id = s.id
  RETURNING r.id, s.previous, s.revision, s.reviewed)
INSERT INTO "audit_entries" (actor_id, actor_role, request_id, action, entity_type, entity_id, details)
SELECT NULL, NULL, 'migration:20261202100000_review_revision', 'report.review_reset', 'report', upd.id::text,
       jsonb_build_object('reviewReset', true, 'previousReviewState', upd.previous, 'revision', upd.revision, 'reviewedRevision', upd.reviewed,
                          'reason', 'revised after its last review (migration 20261202100000_review_revision)')
FROM upd;

-- A report no longer rejected takes part in its table's conflict verdict again: recompute the verdict of
-- the tables of the reports reset above (the same rule as the service's conflictStatement), changing only
-- rows that differ.
WITH reset AS (
  SELECT DISTINCT r.centre_code, r.table_number FROM "audit_entries" a JOIN "reports" r ON r.id::text = a.entity_id
  WHERE a.action = 'report.review_reset' AND a.request_id = 'migration:20261202100000_review_revision'
    AND r.kind = 'results' AND r.table_number IS NOT NULL),
verdict AS (
  SELECT x.centre_code, x.table_number, count(DISTINCT x.answers - 'citizenAudit') FILTER (WHERE x.review_state <> 'rejected') > 1 AS conflict
  FROM "reports" x JOIN reset USING (centre_code, table_number) WHERE x.kind = 'results' GROUP BY x.centre_code, x.table_number)
UPDATE "reports" r SET
  flags = CASE WHEN v.conflict AND r.review_state <> 'rejected' THEN array_append(array_remove(r.flags, 'conflict'), 'conflict')
               ELSE array_remove(r.flags, 'conflict') END,
  updated_at = now()
FROM verdict v
WHERE r.kind = 'results' AND r.centre_code = v.centre_code AND r.table_number = v.table_number
  AND ('conflict' = ANY (r.flags)) IS DISTINCT FROM (v.conflict AND r.review_state <> 'rejected');
