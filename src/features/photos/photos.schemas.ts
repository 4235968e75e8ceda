// Schemas of photos: the Photo answer (also in the report detail, passed there by the wiring), the upload's
// fields and the id parameter.
import { z } from 'zod';
import { instantInput } from '../../infra/http/validation.js';
import { receiptSchema } from '../log/log.schemas.js';
import { PHOTO_KINDS } from './photos.service.js';

export const photoSchema = z
  .object({
    id: z.uuid(),
    reportId: z.uuid(),
    sha256: z.string(),
    size: z.number().int(),
    contentType: z.string(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    kind: z.string().nullable(),
    caption: z.string().nullable(),
    clientCapturedAt: z.iso.datetime().nullable(),
    exifCapturedAt: z.iso.datetime().nullable(),
    location: z.object({ lat: z.number(), lon: z.number() }).nullable().meta({ description: 'From the EXIF GPS' }),
    camera: z.object({ make: z.string().nullable(), model: z.string().nullable() }).nullable(),
    distanceMetres: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'From the EXIF GPS to the centre, when both are known' }),
    flags: z.array(z.string()).meta({
      description:
        'gps_far_from_centre, captured_outside_election_day, same_image_other_table (this one to reviewers only: admins, coordinators)',
    }),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Photo' });

/** A photo as its upload answers it: with the log's receipt of its entry (null only if its row is gone). */
export const attachedPhotoSchema = photoSchema
  .extend({ receipt: receiptSchema.nullable() })
  .meta({ id: 'AttachedPhoto' });

export const fieldsSchema = z.strictObject({
  caption: z.string().trim().min(1).max(500).optional(),
  capturedAt: instantInput().optional(),
  kind: z.enum(PHOTO_KINDS).optional(),
});
export const idParams = z.strictObject({ id: z.uuid() });
