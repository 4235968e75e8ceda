// What a photo upload test needs: a report to attach to (registry, election, a results report by an
// admin), a real JPEG, a multipart body, and a logger whose lines the test can read.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import sharp from 'sharp';
import { as, type TestActor } from './actors.js';
import { createReport, seedRegistry, setElection } from './factories.js';

export async function jpeg(seed = 1, size = 640): Promise<Buffer> {
  return sharp({
    create: {
      width: size,
      height: Math.round((size * 3) / 4),
      channels: 3,
      background: { r: (seed * 40) % 255, g: 90, b: (seed * 7) % 255 },
    },
  })
    .jpeg({ quality: 80 })
    .toBuffer();
}

export function multipart(
  file: Buffer,
  filename = 'photo.jpg',
): { body: Buffer; contentType: string; preamble: Buffer; epilogue: Buffer } {
  const boundary = `----testigo${randomUUID()}`;
  const preamble = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: image/jpeg\r\n\r\n`,
  );
  const epilogue = Buffer.from(`\r\n--${boundary}--\r\n`);
  return {
    body: Buffer.concat([preamble, file, epilogue]),
    contentType: `multipart/form-data; boundary=${boundary}`,
    preamble,
    epilogue,
  };
}

/** Imports the sample registry, sets the election and files a report as `admin`; returns its id. */
export async function prepareReport(app: FastifyInstance, admin: TestActor): Promise<string> {
  await seedRegistry(app, admin);
  await setElection(app, admin, {
    name: 'E',
    candidates: [
      { code: 'EG', name: 'EG' },
      { code: 'NM', name: 'NM' },
    ],
  });
  const answers = { registeredVoters: 760, validVotes: 10, nullVotes: 0, votes: { EG: 6, NM: 4 }, citizenAudit: false };
  return (await createReport(app, admin, 'results', answers, { observedAt: '2024-07-28T22:00:00Z' })).id;
}

export function uploadPhoto(app: FastifyInstance, actor: TestActor, reportId: string, file: Buffer) {
  const form = multipart(file);
  return as(
    app,
    actor,
  )({
    method: 'POST',
    url: `/v1/reports/${reportId}/photos`,
    headers: { 'content-type': form.contentType },
    body: form.body,
  });
}

/** A pino logger at info whose lines (parsed) land in `lines`. */
export function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}
