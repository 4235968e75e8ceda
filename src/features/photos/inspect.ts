// What a staged upload is, decided from its bytes only: the type by magic numbers (file-type), nothing
// appended after the image (polyglots), the pixel count from the header (sharp reads it without decoding),
// and EXIF capture time, GPS and camera (exifr reads only the metadata segments).
import exifr from 'exifr';
import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';
import { AppError } from '../../infra/errors.js';

export const ALLOWED_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/heic', 'image/heif']);
const MARKUP = /<\s*(html|script|svg|iframe|\?php|!doctype)/i;
const ZIP_END = Buffer.from('PK\x05\x06');

export interface Inspection {
  contentType: string;
  extension: string;
  width: number | null;
  height: number | null;
  exif: {
    capturedAt: Date | null;
    offset: string | null;
    latitude: number | null;
    longitude: number | null;
    make: string | null;
    model: string | null;
  };
}

/**
 * Whether another file rides along after the image (a polyglot). Compressed image data is random enough
 * to hold any short signature by chance, so only structure counts: a ZIP whose end-of-central-directory
 * record ends exactly at the end of the file (where every ZIP reader looks for it), or markup after the
 * image's own end marker (JPEG EOI, PNG IEND).
 */
function smuggles(contentType: string, tail: Buffer): boolean {
  for (let at = tail.lastIndexOf(ZIP_END); at >= 0; at = at > 0 ? tail.lastIndexOf(ZIP_END, at - 1) : -1) {
    if (at + 22 <= tail.length && at + 22 + tail.readUInt16LE(at + 20) === tail.length) return true;
  }
  const end =
    contentType === 'image/jpeg'
      ? tail.lastIndexOf(Buffer.from([0xff, 0xd9])) + 2
      : contentType === 'image/png'
        ? tail.lastIndexOf(Buffer.from('IEND')) + 8
        : -1;
  return end > 1 && MARKUP.test(tail.subarray(end).toString('latin1'));
}

const text = (value: unknown, max = 100) =>
  typeof value === 'string' && value.trim() ? value.trim().slice(0, max) : null;

export async function inspect(head: Buffer, tail: Buffer, maxPixels: number): Promise<Inspection> {
  const detected = await fileTypeFromBuffer(head);
  const contentType = detected?.mime === 'image/heif-sequence' ? 'image/heif' : detected?.mime;
  if (!detected || !contentType || !ALLOWED_TYPES.has(contentType)) {
    throw new AppError(
      'PHOTO_TYPE_UNSUPPORTED',
      `The bytes are ${detected ? detected.mime : 'of no known image type'}; send JPEG, PNG, WebP or HEIC`,
    );
  }
  if (smuggles(contentType, tail))
    throw new AppError('PHOTO_TYPE_UNSUPPORTED', 'The image carries another file (archive, markup or script)');
  let width: number | null = null;
  let height: number | null = null;
  try {
    const metadata = await sharp(head, { failOn: 'none', limitInputPixels: false }).metadata();
    width = metadata.width ?? null;
    height = metadata.height ?? null;
  } catch {
    // HEIC without a decoder, or a header beyond the sampled head: the EXIF sizes below may still tell.
  }
  const exif = (await exifr
    .parse(head, {
      tiff: true,
      exif: true,
      gps: true,
      ifd1: false,
      interop: false,
      mergeOutput: true,
      reviveValues: false,
      translateValues: false,
    })
    .catch(() => undefined)) as Record<string, unknown> | undefined;
  width ??= typeof exif?.ExifImageWidth === 'number' ? exif.ExifImageWidth : null;
  height ??= typeof exif?.ExifImageHeight === 'number' ? exif.ExifImageHeight : null;
  if (width === null || height === null) {
    if (contentType !== 'image/heic' && contentType !== 'image/heif')
      throw new AppError('PHOTO_TYPE_UNSUPPORTED', 'The image header cannot be read');
  } else if (width * height > maxPixels) {
    throw new AppError(
      'PHOTO_TOO_MANY_PIXELS',
      `The image declares ${width}×${height} pixels; at most ${maxPixels} are accepted`,
    );
  }
  const captured =
    typeof exif?.DateTimeOriginal === 'string'
      ? exif.DateTimeOriginal
      : typeof exif?.CreateDate === 'string'
        ? exif.CreateDate
        : null;
  const match = captured ? /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})/.exec(captured) : null;
  return {
    contentType,
    extension: detected.ext,
    width,
    height,
    exif: {
      capturedAt: match
        ? new Date(Date.UTC(+match[1]!, +match[2]! - 1, +match[3]!, +match[4]!, +match[5]!, +match[6]!))
        : null,
      offset: text(exif?.OffsetTimeOriginal, 10),
      latitude: typeof exif?.latitude === 'number' && Number.isFinite(exif.latitude) ? exif.latitude : null,
      longitude: typeof exif?.longitude === 'number' && Number.isFinite(exif.longitude) ? exif.longitude : null,
      make: text(exif?.Make),
      model: text(exif?.Model),
    },
  };
}

/** Wall-clock fields (read as UTC) in `timeZone`, or at `offset` (+HH:MM), as the instant they name. */
export function wallClockToInstant(wall: Date, timeZone: string | null, offset: string | null): Date {
  const explicit = offset ? /^([+-])(\d{2}):(\d{2})$/.exec(offset) : null;
  if (explicit) {
    const minutes = (Number(explicit[2]) * 60 + Number(explicit[3])) * (explicit[1] === '-' ? -1 : 1);
    return new Date(wall.getTime() - minutes * 60_000);
  }
  if (!timeZone) return wall;
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(wall)
      .map((part) => [part.type, part.value]),
  );
  const asZoned = Date.UTC(+parts.year!, +parts.month! - 1, +parts.day!, +parts.hour!, +parts.minute!, +parts.second!);
  return new Date(wall.getTime() - (asZoned - wall.getTime()));
}

/** The calendar date (YYYY-MM-DD) of an instant in `timeZone`. */
export function localDate(instant: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
    instant,
  );
}

/** Great-circle distance in metres. */
export function distanceMetres(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_000 * Math.asin(Math.min(1, Math.sqrt(h)));
}
