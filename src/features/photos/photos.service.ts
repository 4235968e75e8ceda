// Photo evidence: who may attach (the report's author, a coordinator or admin in scope), what the bytes
// are, where they go (committed under their sha256 before any row points at them), what their EXIF says
// against the centre and election day, and the derived thumbnails.
import sharp from 'sharp';
import type { Actor, RequestContext } from '../../infra/auth/actor.js';
import { isReviewer, mayModifyReport } from '../../infra/auth/policy.js';
import { AppError } from '../../infra/errors.js';
import {
  type BlobStore,
  originalKey,
  type StagedObject,
  StorageError,
  thumbnailKey,
} from '../../infra/storage/storage.js';
import type { ElectionService } from '../election/election.service.js';
import type { LogService, Receipt } from '../log/log.service.js';
import { locationOf, type ReportsService } from '../reports/reports.service.js';
import { distanceMetres, inspect, localDate, wallClockToInstant } from './inspect.js';
import type { PhotoRow, PhotosRepository } from './photos.repository.js';

type ActorContext = RequestContext & { actor: Actor };
export interface PhotoFields {
  caption?: string | undefined;
  capturedAt?: string | undefined;
  kind?: string | undefined;
}

export const PHOTO_KINDS = ['tally_sheet', 'queue', 'incident', 'machine', 'centre', 'other'] as const;
const THUMBNAIL_SIZE = 320;
// libvips keeps decoded images in a cache and uses a thread per core per image: neither pays off for
// one-off thumbnails, and both cost resident memory.
sharp.cache(false);
sharp.concurrency(1);
const iso = (date: Date | null) => (date ? date.toISOString() : null);

/** Flags shown to reviewers only (policy.isReviewer): same_image_other_table reveals a photo of another table, maybe another region. */
const REVIEWER_FLAGS = new Set(['same_image_other_table']);

export function toPhoto(row: PhotoRow, viewer: Actor) {
  return {
    id: row.id,
    reportId: row.reportId,
    sha256: row.sha256,
    size: row.size,
    contentType: row.contentType,
    width: row.width,
    height: row.height,
    kind: row.kind,
    caption: row.caption,
    clientCapturedAt: iso(row.clientCapturedAt),
    exifCapturedAt: iso(row.exifCapturedAt),
    location: locationOf(row),
    camera: row.cameraMake || row.cameraModel ? { make: row.cameraMake, model: row.cameraModel } : null,
    distanceMetres: row.distanceMetres === null ? null : Math.round(row.distanceMetres),
    flags: isReviewer(viewer) ? row.flags : row.flags.filter((flag) => !REVIEWER_FLAGS.has(flag)),
    createdAt: row.createdAt.toISOString(),
  };
}

export interface PhotosServiceDeps {
  repo: PhotosRepository;
  store: BlobStore;
  reports: Pick<ReportsService, 'visibleReport'>;
  election: Pick<ElectionService, 'current'>;
  /** The log's receipts (given by the wiring). */
  receipts: Pick<LogService, 'ofStored'>;
  maxPixels: number;
  maxDistanceMetres: number;
  log?: { warn(obj: object, msg: string): void } | undefined;
}

export function createPhotosService(deps: PhotosServiceDeps) {
  const { repo, store, reports } = deps;
  const options = deps;
  async function visibleReport(actor: Actor, reportId: string) {
    const report = await reports.visibleReport(actor, reportId);
    if (!report) throw new AppError('NOT_FOUND', `Report ${reportId} does not exist`);
    return report;
  }

  async function visiblePhoto(actor: Actor, id: string): Promise<PhotoRow> {
    const photo = await repo.find(id);
    if (!photo || !(await reports.visibleReport(actor, photo.reportId)))
      throw new AppError('NOT_FOUND', `Photo ${id} does not exist`);
    return photo;
  }

  /** One thumbnail at a time per process: decoding images is the memory-hungry part of photos. */
  let queue: Promise<unknown> = Promise.resolve();
  function makeThumbnail(photo: PhotoRow): Promise<Buffer> {
    const job = queue.then(async () => {
      // Streamed in, decoded with shrink-on-load where the format allows; rotate() applies the EXIF
      // orientation, and sharp writes no metadata unless asked: no EXIF, no GPS.
      const resizer = sharp({ limitInputPixels: options.maxPixels, sequentialRead: true })
        .rotate()
        .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 70 });
      const source = await store.read(originalKey(photo.sha256));
      source.on('error', (error) => resizer.destroy(error));
      source.pipe(resizer);
      const thumbnail = await resizer.toBuffer();
      await store.put(thumbnailKey(photo.sha256), thumbnail, 'image/webp');
      return thumbnail;
    });
    queue = job.catch(() => undefined);
    return job;
  }

  return {
    /** Checked before the body is read: only the author, or a coordinator or admin in scope, attaches. */
    async mayAttach(actor: Actor, reportId: string): Promise<void> {
      const report = await visibleReport(actor, reportId);
      if (!mayModifyReport(actor, report)) {
        throw new AppError(
          'FORBIDDEN',
          "Only the report's author, or a coordinator or admin in scope, attaches photos",
        );
      }
    },

    /**
     * Attaches staged bytes to a report: inspects them, commits them under their hash, then inserts the row
     * (a retry of the same bytes answers the existing photo). Discards the staged bytes on any refusal.
     */
    async attach(
      context: ActorContext,
      reportId: string,
      staged: StagedObject,
      fields: PhotoFields,
    ): Promise<{ status: 'created' | 'existing'; photo: ReturnType<typeof toPhoto>; receipt: Receipt | null }> {
      let committed = false;
      const receipt = async (row: PhotoRow) =>
        (await deps.receipts.ofStored({ type: 'photo', photoId: row.id })) ?? null;
      try {
        const existing = await repo.findByContent(reportId, staged.sha256);
        if (existing)
          return { status: 'existing', photo: toPhoto(existing, context.actor), receipt: await receipt(existing) };
        const facts = await inspect(staged.head, staged.tail, options.maxPixels);
        const election = await options.election.current();
        const exifCapturedAt = facts.exif.capturedAt
          ? wallClockToInstant(facts.exif.capturedAt, election?.timeZone ?? null, facts.exif.offset)
          : null;
        const clientCapturedAt = fields.capturedAt ? new Date(fields.capturedAt) : null;
        const centre = await repo.centreOf(reportId);
        const gps =
          facts.exif.latitude !== null && facts.exif.longitude !== null
            ? { lat: facts.exif.latitude, lon: facts.exif.longitude }
            : null;
        const distance =
          gps && centre?.latitude != null && centre.longitude != null
            ? distanceMetres(gps, { lat: centre.latitude, lon: centre.longitude })
            : null;
        const flags: string[] = [];
        if (distance !== null && distance > options.maxDistanceMetres) flags.push('gps_far_from_centre');
        const captured = exifCapturedAt ?? clientCapturedAt;
        if (captured && election && localDate(captured, election.timeZone) !== election.date)
          flags.push('captured_outside_election_day');
        await staged.commit(originalKey(staged.sha256), facts.contentType);
        committed = true;
        const { row, created } = await repo.attachPhoto(context, {
          reportId,
          sha256: staged.sha256,
          size: staged.size,
          contentType: facts.contentType,
          width: facts.width,
          height: facts.height,
          kind: fields.kind ?? null,
          caption: fields.caption ?? null,
          clientCapturedAt,
          exifCapturedAt,
          latitude: gps?.lat ?? null,
          longitude: gps?.lon ?? null,
          cameraMake: facts.exif.make,
          cameraModel: facts.exif.model,
          distanceMetres: distance,
          flags,
          uploaderId: context.actor.userId,
        });
        if (!row) throw new Error(`photo of ${staged.sha256} neither inserted nor found`);
        // The thumbnail is made off the request; GET …/thumbnail makes it on demand if this never ran.
        setImmediate(
          () =>
            void makeThumbnail(row).catch((error: unknown) =>
              options.log?.warn({ err: error, photoId: row.id }, 'thumbnail failed'),
            ),
        );
        return {
          status: created ? 'created' : 'existing',
          photo: toPhoto(row, context.actor),
          receipt: await receipt(row),
        };
      } finally {
        if (!committed) await staged.discard();
      }
    },

    async get(actor: Actor, id: string) {
      return toPhoto(await visiblePhoto(actor, id), actor);
    },

    async ofReport(actor: Actor, reportId: string) {
      return (await repo.ofReport(reportId)).map((row) => toPhoto(row, actor));
    },

    async original(actor: Actor, id: string, range?: { start: number; end: number }) {
      const photo = await visiblePhoto(actor, id);
      return { photo, body: () => store.read(originalKey(photo.sha256), range) };
    },

    async thumbnail(actor: Actor, id: string): Promise<{ photo: PhotoRow; body: Buffer | NodeJS.ReadableStream }> {
      const photo = await visiblePhoto(actor, id);
      if (await store.stat(thumbnailKey(photo.sha256)))
        return { photo, body: await store.read(thumbnailKey(photo.sha256)) };
      try {
        return { photo, body: await makeThumbnail(photo) };
      } catch (error) {
        options.log?.warn({ err: error, photoId: photo.id }, 'thumbnail failed');
        // The store failing (full, unreachable) is not the image's fault: 503, retry later.
        if (error instanceof StorageError) {
          throw new AppError(
            'STORAGE_UNAVAILABLE',
            'The thumbnail cannot be stored right now; retry later, or fetch the original',
            { headers: error.extra.headers ?? {} },
          );
        }
        throw new AppError(
          'PHOTO_THUMBNAIL_UNAVAILABLE',
          `No thumbnail can be made of this ${photo.contentType}; fetch the original`,
        );
      }
    },
  };
}

export type PhotosService = ReturnType<typeof createPhotosService>;
