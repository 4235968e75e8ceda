-- CreateTable
CREATE TABLE "log_pending" (
    "seq" BIGSERIAL NOT NULL,
    "type" VARCHAR(10) NOT NULL,
    "report_id" UUID NOT NULL,
    "revision" INTEGER,
    "review_id" BIGINT,
    "photo_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "log_pending_pkey" PRIMARY KEY ("seq")
);

-- CreateTable
CREATE TABLE "log_leaves" (
    "idx" BIGINT NOT NULL,
    "leaf_hash" BYTEA NOT NULL,
    "entry" BYTEA NOT NULL,
    "type" VARCHAR(10) NOT NULL,
    "report_id" UUID NOT NULL,
    "revision" INTEGER,
    "review_id" BIGINT,
    "photo_id" UUID,
    "queued_at" TIMESTAMPTZ(3) NOT NULL,
    "integrated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "log_leaves_pkey" PRIMARY KEY ("idx")
);

-- CreateTable
CREATE TABLE "log_hashes" (
    "level" SMALLINT NOT NULL,
    "idx" BIGINT NOT NULL,
    "hash" BYTEA NOT NULL,

    CONSTRAINT "log_hashes_pkey" PRIMARY KEY ("level","idx")
);

-- CreateTable
CREATE TABLE "log_checkpoints" (
    "size" BIGINT NOT NULL,
    "root" BYTEA NOT NULL,
    "note" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "log_checkpoints_pkey" PRIMARY KEY ("size")
);

-- CreateIndex
CREATE UNIQUE INDEX "log_leaves_leaf_hash_key" ON "log_leaves"("leaf_hash");



-- Queue for the log: every new row of report_revisions, report_reviews and photos, in the writer's
-- transaction (src/features/log/log.functions.sql).
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

CREATE TRIGGER "report_revisions_log" AFTER INSERT ON "report_revisions" REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "testigo_log_enqueue"();
CREATE TRIGGER "report_reviews_log" AFTER INSERT ON "report_reviews" REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "testigo_log_enqueue"();
CREATE TRIGGER "photos_log" AFTER INSERT ON "photos" REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "testigo_log_enqueue"();

-- Leaves, node hashes and checkpoints are only ever added (the queue is emptied by the integrator).
CREATE TRIGGER "log_leaves_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "log_leaves"
  FOR EACH STATEMENT EXECUTE FUNCTION "testigo_append_only"();
CREATE TRIGGER "log_hashes_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "log_hashes"
  FOR EACH STATEMENT EXECUTE FUNCTION "testigo_append_only"();
CREATE TRIGGER "log_checkpoints_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "log_checkpoints"
  FOR EACH STATEMENT EXECUTE FUNCTION "testigo_append_only"();

-- What was accepted before the log existed enters it first, in the order it was accepted.
INSERT INTO log_pending (type, report_id, revision, review_id, photo_id, created_at)
SELECT type, report_id, revision, review_id, photo_id, clock_timestamp() FROM (
  SELECT CASE WHEN v.number = 1 THEN 'report' ELSE 'revision' END AS type, v.report_id, v.number AS revision,
         NULL::bigint AS review_id, NULL::uuid AS photo_id, v.created_at AS at, 0 AS tie
  FROM report_revisions v
  UNION ALL
  SELECT 'review', w.report_id, w.revision, w.id, NULL, w.created_at, 1 FROM report_reviews w
  UNION ALL
  SELECT 'photo', p.report_id, NULL, NULL, p.id, p.created_at, 2 FROM photos p) existing
ORDER BY at, tie, report_id, revision, review_id, photo_id;
