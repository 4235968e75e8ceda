import { createHash, randomUUID } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { as, createActor, type TestActor } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';
import {
  createReport,
  type MultipartPart,
  multipartForm,
  photoForm,
  seedRegistry,
  setElection,
} from '../helpers/factories.js';

const { app, db, admin, objects } = await setupTestApp({
  env: { PHOTO_MAX_BYTES: String(2 * 1024 * 1024), PHOTO_MAX_PIXELS: '40000000' },
});
const asAdmin = as(app, admin);
let seed = 100;
/** A seed no other test of this file uses: its image's bytes are this test's own. */
const ownSeed = () => (seed += 1);
let observer: TestActor;
let other: TestActor;
const reports: Record<string, string> = {};

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A real JPEG with EXIF capture time and GPS (near centre 010101001 unless told otherwise). */
async function jpeg(options: { seed?: number; lat?: number; lon?: number; when?: string } = {}): Promise<Buffer> {
  const seed = options.seed ?? 1;
  const image = sharp({
    create: { width: 640, height: 480, channels: 3, background: { r: (seed * 40) % 255, g: 90, b: (seed * 7) % 255 } },
  });
  const lat = options.lat ?? 10.5062;
  const lon = options.lon ?? -66.9147;
  return image
    .withExif({
      IFD0: { Make: 'TestPhone', Model: 'T1' },
      IFD2: { DateTimeOriginal: options.when ?? '2024:07:28 18:40:00' },
      IFD3: {
        GPSLatitudeRef: lat >= 0 ? 'N' : 'S',
        GPSLatitude: `${Math.abs(lat)}/1 0/1 0/1`,
        GPSLongitudeRef: lon >= 0 ? 'E' : 'W',
        GPSLongitude: `${Math.abs(lon)}/1 0/1 0/1`,
      },
    })
    .jpeg({ quality: 80 })
    .toBuffer();
}

const upload = (
  actor: TestActor,
  reportId: string,
  file: Buffer,
  extra: { name: string; content: string }[] = [],
  filename = 'photo.jpg',
) => {
  const form = photoForm(file, extra, filename);
  return as(
    app,
    actor,
  )({
    method: 'POST',
    url: `/v1/reports/${reportId}/photos`,
    headers: { 'content-type': form.contentType },
    body: form.body,
  });
};

async function stored() {
  const { originals, staged } = await objects();
  const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM photos');
  return { rows: row!.n, originals: originals.length, staging: staged.length };
}

beforeAll(async () => {
  await seedRegistry(app, admin);
  await setElection(app, admin, {
    name: 'E',
    candidates: [
      { code: 'EG', name: 'EG' },
      { code: 'NM', name: 'NM' },
    ],
  });
  observer = await createActor(app, 'observer');
  other = await createActor(app, 'observer');
  for (const user of [observer, other])
    await asAdmin({ method: 'PUT', url: `/v1/users/${user.id}/assignments`, payload: { centres: ['010101001'] } });
  reports.one = await newReport(1);
});

/** A results report by the observer at 010101001, table `table`: a report no other test attaches to. */
async function newReport(table = 1): Promise<string> {
  const answers = { registeredVoters: 760, validVotes: 10, nullVotes: 0, votes: { EG: 6, NM: 4 }, citizenAudit: false };
  return (await createReport(app, observer, 'results', answers, { table, observedAt: '2024-07-28T22:00:00Z' })).id;
}

/** A report of its own with one photo of bytes of its own (a JPEG with EXIF near the centre). */
async function newPhoto(): Promise<{ reportId: string; photo: { id: string; sha256: string }; bytes: Buffer }> {
  const reportId = await newReport();
  const bytes = await jpeg({ seed: ownSeed() });
  const response = await upload(observer, reportId, bytes);
  expect(response.statusCode, response.body).toBe(201);
  return { reportId, photo: response.json(), bytes };
}

describe('POST /v1/reports/{id}/photos', () => {
  it('stores the bytes under their hash and answers the metadata: 201', async () => {
    const reportId = await newReport();
    const bytes = await jpeg({ seed: ownSeed() });
    const before = await stored();
    const response = await upload(observer, reportId, bytes, [
      { name: 'caption', content: 'Acta mesa 1' },
      { name: 'kind', content: 'tally_sheet' },
    ]);
    expect(response.statusCode, response.body).toBe(201);
    const photo = response.json();
    expect(photo).toMatchObject({
      reportId,
      sha256: sha256(bytes),
      size: bytes.length,
      contentType: 'image/jpeg',
      width: 640,
      height: 480,
      kind: 'tally_sheet',
      caption: 'Acta mesa 1',
      camera: { make: 'TestPhone', model: 'T1' },
      flags: [],
    });
    expect((photo as unknown as { exifCapturedAt: string }).exifCapturedAt).toBe('2024-07-28T22:40:00.000Z'); // 18:40 in Caracas
    expect((photo as unknown as { distanceMetres: number }).distanceMetres).toBeLessThan(100);
    expect(await stored()).toEqual({ rows: before.rows + 1, originals: before.originals + 1, staging: 0 });
  });

  it('answers the same bytes again with the existing photo: 200, nothing stored twice', async () => {
    const { reportId, photo, bytes } = await newPhoto();
    const before = await stored();
    const again = await upload(observer, reportId, bytes);
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(photo.id);
    expect(await stored()).toEqual({ rows: before.rows, originals: before.originals, staging: 0 });
  });

  it('serves the original exactly, with a strong ETag, 304 and ranges', async () => {
    const { photo, bytes } = await newPhoto();
    const response = await as(app, observer)(`/v1/photos/${photo.id}/content`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('image/jpeg');
    expect(response.headers.etag).toBe(`"${photo.sha256}"`);
    expect(response.headers['content-disposition']).toBe(`attachment; filename="photo-${photo.id}.jpeg"`);
    expect(sha256(response.rawPayload)).toBe(photo.sha256);
    expect(
      (
        await as(
          app,
          observer,
        )({ url: `/v1/photos/${photo.id}/content`, headers: { 'if-none-match': `"${photo.sha256}"` } })
      ).statusCode,
    ).toBe(304);
    const part = await as(app, observer)({ url: `/v1/photos/${photo.id}/content`, headers: { range: 'bytes=10-19' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 10-19/${bytes.length}`);
    expect(part.rawPayload.equals(bytes.subarray(10, 20))).toBe(true);
    const suffix = await as(app, observer)({ url: `/v1/photos/${photo.id}/content`, headers: { range: 'bytes=-5' } });
    expect(suffix.rawPayload.equals(bytes.subarray(bytes.length - 5))).toBe(true);
    const outside = await as(
      app,
      observer,
    )({ url: `/v1/photos/${photo.id}/content`, headers: { range: `bytes=${bytes.length}-` } });
    expect(outside.statusCode).toBe(416);
    expect(outside.headers['content-range']).toBe(`bytes */${bytes.length}`);
  });

  it('makes a small WebP thumbnail without EXIF or GPS', async () => {
    const { photo } = await newPhoto();
    const response = await as(app, observer)(`/v1/photos/${photo.id}/thumbnail`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('image/webp');
    const metadata = await sharp(response.rawPayload).metadata();
    expect(metadata.format).toBe('webp');
    expect(Math.max(metadata.width!, metadata.height!)).toBeLessThanOrEqual(320);
    expect(metadata.exif).toBeUndefined();
  });

  it('lists the photo in its report and hides it from other observers', async () => {
    const { reportId, photo } = await newPhoto();
    expect((await as(app, observer)(`/v1/reports/${reportId}`)).json().photos.map((p: { id: string }) => p.id)).toEqual(
      [photo.id],
    );
    for (const url of [
      `/v1/photos/${photo.id}`,
      `/v1/photos/${photo.id}/content`,
      `/v1/photos/${photo.id}/thumbnail`,
    ]) {
      expect((await as(app, other)(url)).statusCode).toBe(404);
    }
  });

  it('flags the same image attached to two tables, both, shown to reviewers only (not to observers or analysts)', async () => {
    const { reportId, photo, bytes } = await newPhoto();
    const response = await upload(observer, await newReport(2), bytes);
    expect(response.statusCode).toBe(201);
    const second = response.json();
    const rows = await db.query<{ flags: string[] }>('SELECT flags FROM photos WHERE sha256 = $1', [photo.sha256]);
    expect(rows.map((row) => row.flags)).toEqual([['same_image_other_table'], ['same_image_other_table']]);
    // The observer learns nothing of other tables' photos: not in the upload's answer, nor in reads.
    expect(second.flags).not.toContain('same_image_other_table');
    expect((await as(app, observer)(`/v1/photos/${photo.id}`)).json().flags).not.toContain('same_image_other_table');
    expect((await as(app, observer)(`/v1/reports/${reportId}`)).json().photos[0].flags).not.toContain(
      'same_image_other_table',
    );
    const analyst = await createActor(app, 'analyst');
    expect((await as(app, analyst)(`/v1/photos/${photo.id}`)).json().flags).not.toContain('same_image_other_table');
    const coordinator = await createActor(app, 'coordinator', { scopeRegion: '01' });
    for (const reviewer of [admin, coordinator]) {
      expect((await as(app, reviewer)(`/v1/photos/${second.id}`)).json().flags).toContain('same_image_other_table');
      expect((await as(app, reviewer)(`/v1/reports/${reportId}`)).json().photos[0].flags).toContain(
        'same_image_other_table',
      );
    }
  });

  it('keeps a damaged image as evidence but answers 422 for its thumbnail', async () => {
    const image = await jpeg({ seed: 31 });
    const damaged = image.subarray(0, Math.floor(image.length * 0.6));
    const response = await upload(observer, reports.one!, damaged);
    expect(response.statusCode).toBe(201);
    const thumbnail = await as(app, observer)(`/v1/photos/${response.json().id}/thumbnail`);
    expect(thumbnail.statusCode).toBe(422);
    expect(thumbnail.json().code).toBe('PHOTO_THUMBNAIL_UNAVAILABLE');
    expect(sha256((await as(app, observer)(`/v1/photos/${response.json().id}/content`)).rawPayload)).toBe(
      sha256(damaged),
    );
  });

  it('accepts an image whose data happens to hold archive and markup signatures, but not markup after its end', async () => {
    const image = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 1, g: 2, b: 3 } } })
      .withExif({ IFD0: { ImageDescription: 'PK\x05\x06 PK\x03\x04 <html><script>' } })
      .jpeg()
      .toBuffer();
    expect((await upload(observer, reports.one!, image)).statusCode).toBe(201);
    const trailing = Buffer.concat([image, Buffer.from('<html><script>alert(1)</script></html>')]);
    expect((await upload(observer, reports.one!, trailing)).json().code).toBe('PHOTO_TYPE_UNSUPPORTED');
  });

  it('never takes the storage key from the file name', async () => {
    const image = await jpeg({ seed: 21 });
    const response = await upload(observer, reports.one!, image, [], '../../../../tmp/owned.jpg');
    expect(response.statusCode).toBe(201);
    const { originals } = await objects();
    expect(originals).toContain(`originals/${sha256(image).slice(0, 2)}/${sha256(image).slice(2, 4)}/${sha256(image)}`);
    expect(originals.every((key) => /^originals\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(key))).toBe(true);
  });

  it('flags a photo taken far from the centre or on another day', async () => {
    const response = await upload(
      observer,
      reports.one!,
      await jpeg({ seed: 5, lat: 8.0, lon: -62.0, when: '2024:07:27 10:00:00' }),
    );
    expect(response.json().flags.sort()).toEqual(['captured_outside_election_day', 'gps_far_from_centre']);
  });
});

describe('bad uploads are refused and leave nothing', () => {
  const png = (width: number, height: number) => {
    // A valid PNG header that claims a huge size over a tiny compressed body: a pixel bomb.
    const chunk = (type: string, data: Buffer) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(data.length);
      return Buffer.concat([length, Buffer.from(type), data, Buffer.alloc(4)]);
    };
    const header = Buffer.alloc(13);
    header.writeUInt32BE(width, 0);
    header.writeUInt32BE(height, 4);
    header.set([8, 2, 0, 0, 0], 8);
    return Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', header),
      chunk('IDAT', deflateSync(Buffer.alloc(1000))),
      chunk('IEND', Buffer.alloc(0)),
    ]);
  };
  const zip = Buffer.concat([
    Buffer.from('PK\x03\x04'),
    Buffer.alloc(200, 1),
    Buffer.from('PK\x05\x06'),
    Buffer.alloc(18),
  ]);

  it.each([
    ['a zip renamed .jpg', async () => zip, 415, 'PHOTO_TYPE_UNSUPPORTED'],
    [
      'HTML renamed .jpg',
      async () => Buffer.from('<!doctype html><html><script>alert(1)</script></html>'),
      415,
      'PHOTO_TYPE_UNSUPPORTED',
    ],
    [
      'an SVG',
      async () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
      415,
      'PHOTO_TYPE_UNSUPPORTED',
    ],
    [
      'a JPEG with a zip appended (polyglot)',
      async () => Buffer.concat([await jpeg({ seed: 9 }), zip]),
      415,
      'PHOTO_TYPE_UNSUPPORTED',
    ],
    ['a pixel bomb', async () => png(60_000, 60_000), 422, 'PHOTO_TOO_MANY_PIXELS'],
    [
      'a file over the size limit',
      async () => Buffer.concat([await jpeg({ seed: 11 }), Buffer.alloc(3 * 1024 * 1024)]),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
  ])('%s', async (_name, make, status, code) => {
    const before = await stored();
    const response = await upload(observer, reports.one!, await make(), [], '../../../etc/passwd');
    expect(response.statusCode).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json().code).toBe(code);
    expect(await stored()).toEqual(before);
  });

  it('refuses a missing file part, two files, unknown fields, another content type, unknown and out-of-scope reports', async () => {
    const before = await stored();
    const image = await jpeg({ seed: 12 });
    const send = (parts: MultipartPart[], reportId = reports.one!, actor = observer) => {
      const form = multipartForm(parts);
      return as(
        app,
        actor,
      )({
        method: 'POST',
        url: `/v1/reports/${reportId}/photos`,
        headers: { 'content-type': form.contentType },
        body: form.body,
      });
    };
    expect((await send([{ name: 'caption', content: 'no file' }])).json().code).toBe('PHOTO_FILE_MISSING');
    expect(
      (
        await send([
          { name: 'file', filename: 'a.jpg', content: image },
          { name: 'file', filename: 'b.jpg', content: image },
        ])
      ).json().code,
    ).toBe('PHOTO_TOO_MANY_FILES');
    expect(
      (
        await send([
          { name: 'owner', content: 'me' },
          { name: 'file', filename: 'a.jpg', content: image },
        ])
      ).json().code,
    ).toBe('VALIDATION_FAILED');
    expect((await send([{ name: 'file', filename: 'a.jpg', content: image }], randomUUID())).statusCode).toBe(404);
    expect((await send([{ name: 'file', filename: 'a.jpg', content: image }], reports.one!, other)).statusCode).toBe(
      404,
    );
    const json = await as(
      app,
      observer,
    )({ method: 'POST', url: `/v1/reports/${reports.one}/photos`, payload: { file: 'x' } });
    expect(json.statusCode).toBe(415);
    expect(await stored()).toEqual(before);
  });
});
