-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "region_level" AS ENUM ('state', 'municipality', 'parish');

-- CreateTable
CREATE TABLE "regions" (
    "code" VARCHAR(32) NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "level" "region_level" NOT NULL,
    "parent_code" VARCHAR(32),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "regions_pkey" PRIMARY KEY ("code")
);

-- CreateTable
CREATE TABLE "centres" (
    "code" VARCHAR(32) NOT NULL,
    "name" VARCHAR(300) NOT NULL,
    "address" VARCHAR(500),
    "latitude" DOUBLE PRECISION,
    "longitude" DOUBLE PRECISION,
    "parish_code" VARCHAR(32) NOT NULL,
    "municipality_code" VARCHAR(32) NOT NULL,
    "state_code" VARCHAR(32) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "centres_pkey" PRIMARY KEY ("code")
);

-- CreateTable
CREATE TABLE "polling_tables" (
    "centre_code" VARCHAR(32) NOT NULL,
    "number" INTEGER NOT NULL,
    "registered_voters" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "polling_tables_pkey" PRIMARY KEY ("centre_code","number")
);

-- CreateIndex
CREATE INDEX "regions_parent_code_idx" ON "regions"("parent_code");

-- CreateIndex
CREATE INDEX "regions_level_idx" ON "regions"("level");

-- CreateIndex
CREATE INDEX "centres_parish_code_idx" ON "centres"("parish_code");

-- CreateIndex
CREATE INDEX "centres_municipality_code_idx" ON "centres"("municipality_code");

-- CreateIndex
CREATE INDEX "centres_state_code_idx" ON "centres"("state_code");

-- AddForeignKey
ALTER TABLE "regions" ADD CONSTRAINT "regions_parent_code_fkey" FOREIGN KEY ("parent_code") REFERENCES "regions"("code") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "centres" ADD CONSTRAINT "centres_parish_code_fkey" FOREIGN KEY ("parish_code") REFERENCES "regions"("code") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "centres" ADD CONSTRAINT "centres_municipality_code_fkey" FOREIGN KEY ("municipality_code") REFERENCES "regions"("code") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "centres" ADD CONSTRAINT "centres_state_code_fkey" FOREIGN KEY ("state_code") REFERENCES "regions"("code") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "polling_tables" ADD CONSTRAINT "polling_tables_centre_code_fkey" FOREIGN KEY ("centre_code") REFERENCES "centres"("code") ON DELETE RESTRICT ON UPDATE CASCADE;

