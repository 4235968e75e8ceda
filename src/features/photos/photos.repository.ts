// SQL of photos: the insert with its audit row (a retry of the same bytes finds the existing row), the
// "one image, two tables" flag, and reads.
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import { auditTrail as audit } from '../../infra/audit.js';
import type { RequestContext } from '../../infra/auth/actor.js';

import type { Db as Sql } from '../../infra/db/client.js';

export interface PhotoRow {
  id: string;
  reportId: string;
  sha256: string;
  size: number;
  contentType: string;
  width: number | null;
  height: number | null;
  kind: string | null;
  caption: string | null;
  clientCapturedAt: Date | null;
  exifCapturedAt: Date | null;
  latitude: number | null;
  longitude: number | null;
  cameraMake: string | null;
  cameraModel: string | null;
  distanceMetres: number | null;
  flags: string[];
  uploaderId: string;
  createdAt: Date;
}
export type NewPhoto = Omit<PhotoRow, 'id' | 'createdAt'>;

const columns = Prisma.sql`
  p.id, p.report_id AS "reportId", p.sha256, p.size, p.content_type AS "contentType", p.width, p.height, p.kind, p.caption,
  p.client_captured_at AS "clientCapturedAt", p.exif_captured_at AS "exifCapturedAt", p.latitude, p.longitude,
  p.camera_make AS "cameraMake", p.camera_model AS "cameraModel", p.distance_metres AS "distanceMetres", p.flags,
  p.uploader_id AS "uploaderId", p.created_at AS "createdAt"`;

export const photosRepository = {
  lockContent(sha256: string) {
    return Prisma.sql`SELECT pg_advisory_xact_lock(hashtext('testigo.photo'), hashtext(${sha256}))::text`;
  },

  insertStatement(context: RequestContext, photo: NewPhoto) {
    const auditRow = audit.insertFrom(context, 'ins', {
      action: 'photo.attached',
      entityType: 'photo',
      details: { reportId: photo.reportId, sha256: photo.sha256, size: photo.size },
    });
    return Prisma.sql`
      WITH ins AS (
        INSERT INTO photos AS p (id, report_id, sha256, size, content_type, width, height, kind, caption,
                                 client_captured_at, exif_captured_at, latitude, longitude, camera_make, camera_model,
                                 distance_metres, flags, uploader_id)
        VALUES (gen_random_uuid(), ${photo.reportId}::uuid, ${photo.sha256}, ${photo.size}, ${photo.contentType},
                ${photo.width}, ${photo.height}, ${photo.kind}, ${photo.caption}, ${photo.clientCapturedAt},
                ${photo.exifCapturedAt}, ${photo.latitude}, ${photo.longitude}, ${photo.cameraMake}, ${photo.cameraModel},
                ${photo.distanceMetres}, ${photo.flags}::text[], ${photo.uploaderId}::uuid)
        ON CONFLICT (report_id, sha256) DO NOTHING
        RETURNING *),
      aud AS (${auditRow})
      SELECT ${columns} FROM ins p`;
  },

  /** Flags every photo of these bytes when they are attached to reports of different tables. */
  sameImageStatement(sha256: string) {
    return Prisma.sql`
      WITH places AS (
        SELECT count(DISTINCT (r.centre_code, coalesce(r.table_number, 0))) AS n
        FROM photos p JOIN reports r ON r.id = p.report_id WHERE p.sha256 = ${sha256})
      UPDATE photos p SET flags = array_append(p.flags, 'same_image_other_table')
      FROM places WHERE p.sha256 = ${sha256} AND places.n > 1 AND NOT ('same_image_other_table' = ANY (p.flags))`;
  },

  async find(db: Sql, id: string): Promise<PhotoRow | undefined> {
    return (await db.$queryRaw<PhotoRow[]>`SELECT ${columns} FROM photos p WHERE p.id = ${id}::uuid`)[0];
  },

  async findByContent(db: Sql, reportId: string, sha256: string): Promise<PhotoRow | undefined> {
    return (
      await db.$queryRaw<
        PhotoRow[]
      >`SELECT ${columns} FROM photos p WHERE p.report_id = ${reportId}::uuid AND p.sha256 = ${sha256}`
    )[0];
  },

  async ofReport(db: Sql, reportId: string): Promise<PhotoRow[]> {
    return db.$queryRaw`SELECT ${columns} FROM photos p WHERE p.report_id = ${reportId}::uuid ORDER BY p.created_at, p.id`;
  },

  async centreOf(
    db: Sql,
    reportId: string,
  ): Promise<{ latitude: number | null; longitude: number | null } | undefined> {
    return (
      await db.$queryRaw<{ latitude: number | null; longitude: number | null }[]>`
      SELECT c.latitude, c.longitude FROM reports r JOIN centres c ON c.code = r.centre_code
      WHERE r.id = ${reportId}::uuid`
    )[0];
  },
};

/** The photos repository on `prisma`: reads, and the attachment as one transaction (what the photos service is given). */
export function createPhotosRepository(prisma: PrismaClient) {
  const r = photosRepository;
  return {
    find: (id: string) => r.find(prisma, id),
    findByContent: (reportId: string, sha256: string) => r.findByContent(prisma, reportId, sha256),
    ofReport: (reportId: string) => r.ofReport(prisma, reportId),
    centreOf: (reportId: string) => r.centreOf(prisma, reportId),

    /**
     * Attaches a photo whose bytes are committed: under a lock of its content, the row with its audit entry, and the
     * "one image, two tables" flag, in one transaction. Answers the photo as stored now, and whether this inserted it.
     */
    async attachPhoto(
      context: RequestContext,
      photo: NewPhoto,
    ): Promise<{ row: PhotoRow | undefined; created: boolean }> {
      const [, rows] = await prisma.$transaction([
        prisma.$queryRaw(r.lockContent(photo.sha256)),
        prisma.$queryRaw<PhotoRow[]>(r.insertStatement(context, photo)),
        prisma.$executeRaw(r.sameImageStatement(photo.sha256)),
      ]);
      const row = rows[0]
        ? await r.find(prisma, rows[0].id)
        : await r.findByContent(prisma, photo.reportId, photo.sha256);
      return { row, created: Boolean(rows[0]) };
    },
  };
}

export type PhotosRepository = ReturnType<typeof createPhotosRepository>;
