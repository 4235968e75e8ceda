-- CreateTable
CREATE TABLE "photos" (
    "id" UUID NOT NULL,
    "report_id" UUID NOT NULL,
    "sha256" CHAR(64) NOT NULL,
    "size" INTEGER NOT NULL,
    "content_type" VARCHAR(40) NOT NULL,
    "width" INTEGER,
    "height" INTEGER,
    "kind" VARCHAR(30),
    "caption" VARCHAR(500),
    "client_captured_at" TIMESTAMPTZ(3),
    "exif_captured_at" TIMESTAMPTZ(3),
    "latitude" DOUBLE PRECISION,
    "longitude" DOUBLE PRECISION,
    "camera_make" VARCHAR(100),
    "camera_model" VARCHAR(100),
    "distance_metres" DOUBLE PRECISION,
    "flags" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "uploader_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "photos_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "photos_sha256_idx" ON "photos"("sha256");

-- CreateIndex
CREATE UNIQUE INDEX "photos_report_id_sha256_key" ON "photos"("report_id", "sha256");

-- AddForeignKey
ALTER TABLE "photos" ADD CONSTRAINT "photos_report_id_fkey" FOREIGN KEY ("report_id") REFERENCES "reports"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

