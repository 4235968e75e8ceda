-- CreateEnum
CREATE TYPE "report_kind" AS ENUM ('arrival', 'opening', 'voting', 'closing', 'results', 'incident');

-- CreateEnum
CREATE TYPE "review_state" AS ENUM ('unreviewed', 'verified', 'flagged', 'rejected');

-- CreateTable
CREATE TABLE "elections" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "name" VARCHAR(200) NOT NULL,
    "date" VARCHAR(10) NOT NULL,
    "time_zone" VARCHAR(64) NOT NULL,
    "candidates" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "elections_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "reports" (
    "id" UUID NOT NULL,
    "kind" "report_kind" NOT NULL,
    "centre_code" VARCHAR(32) NOT NULL,
    "table_number" INTEGER,
    "parish_code" VARCHAR(32) NOT NULL,
    "municipality_code" VARCHAR(32) NOT NULL,
    "state_code" VARCHAR(32) NOT NULL,
    "observer_id" UUID NOT NULL,
    "observed_at" TIMESTAMPTZ(3) NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "form_version" INTEGER NOT NULL,
    "answers" JSONB NOT NULL,
    "notes" TEXT,
    "latitude" DOUBLE PRECISION,
    "longitude" DOUBLE PRECISION,
    "accuracy" DOUBLE PRECISION,
    "submission_hash" CHAR(64) NOT NULL,
    "content_hash" CHAR(64) NOT NULL,
    "revision" INTEGER NOT NULL DEFAULT 1,
    "review_state" "review_state" NOT NULL DEFAULT 'unreviewed',
    "flags" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "reports_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "report_revisions" (
    "report_id" UUID NOT NULL,
    "number" INTEGER NOT NULL,
    "observed_at" TIMESTAMPTZ(3) NOT NULL,
    "answers" JSONB NOT NULL,
    "notes" TEXT,
    "latitude" DOUBLE PRECISION,
    "longitude" DOUBLE PRECISION,
    "accuracy" DOUBLE PRECISION,
    "content_hash" CHAR(64) NOT NULL,
    "reason" TEXT,
    "author_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "report_revisions_pkey" PRIMARY KEY ("report_id","number")
);

-- CreateTable
CREATE TABLE "report_reviews" (
    "id" BIGSERIAL NOT NULL,
    "report_id" UUID NOT NULL,
    "state" "review_state" NOT NULL,
    "note" TEXT,
    "reviewer_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "report_reviews_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "reports_received_at_id_idx" ON "reports"("received_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "reports_centre_code_table_number_kind_idx" ON "reports"("centre_code", "table_number", "kind");

-- CreateIndex
CREATE INDEX "reports_state_code_kind_idx" ON "reports"("state_code", "kind");

-- CreateIndex
CREATE INDEX "reports_municipality_code_idx" ON "reports"("municipality_code");

-- CreateIndex
CREATE INDEX "reports_parish_code_idx" ON "reports"("parish_code");

-- CreateIndex
CREATE INDEX "reports_observer_id_idx" ON "reports"("observer_id");

-- CreateIndex
CREATE INDEX "report_reviews_report_id_created_at_idx" ON "report_reviews"("report_id", "created_at");

-- AddForeignKey
ALTER TABLE "reports" ADD CONSTRAINT "reports_centre_code_fkey" FOREIGN KEY ("centre_code") REFERENCES "centres"("code") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reports" ADD CONSTRAINT "reports_observer_id_fkey" FOREIGN KEY ("observer_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "report_revisions" ADD CONSTRAINT "report_revisions_report_id_fkey" FOREIGN KEY ("report_id") REFERENCES "reports"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "report_reviews" ADD CONSTRAINT "report_reviews_report_id_fkey" FOREIGN KEY ("report_id") REFERENCES "reports"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- Report history is append-only: revisions and reviews are added, never changed or removed.
CREATE TRIGGER "report_revisions_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "report_revisions"
  FOR EACH STATEMENT EXECUTE FUNCTION "testigo_append_only"();
CREATE TRIGGER "report_reviews_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "report_reviews"
  FOR EACH STATEMENT EXECUTE FUNCTION "testigo_append_only"();
