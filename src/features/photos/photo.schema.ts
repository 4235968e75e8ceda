// The Photo response schema, shared by the photo routes and the report detail.
import { z } from 'zod';

export const photoSchema = z
  .object({
    id: z.uuid(), reportId: z.uuid(), sha256: z.string(), size: z.number().int(), contentType: z.string(),
    width: z.number().int().nullable(), height: z.number().int().nullable(), kind: z.string().nullable(), caption: z.string().nullable(),
    clientCapturedAt: z.iso.datetime().nullable(), exifCapturedAt: z.iso.datetime().nullable(),
    location: z.object({ lat: z.number(), lon: z.number() }).nullable().meta({ description: 'From the EXIF GPS' }),
    camera: z.object({ make: z.string().nullable(), model: z.string().nullable() }).nullable(),
    distanceMetres: z.number().int().nullable().meta({ description: 'From the EXIF GPS to the centre, when both are known' }),
    flags: z.array(z.string()).meta({ description: 'gps_far_from_centre, captured_outside_election_day, same_image_other_table (this one to reviewers only: admins, coordinators)' }),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Photo' });

