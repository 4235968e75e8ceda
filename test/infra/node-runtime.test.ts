// The Node the suite runs on. CI runs the suite on the machine's Node 20 and again on Node 24 LTS (the
// production runtime) with EXPECT_NODE_MAJOR=24: this file fails if a run is not on the Node it claims, if the
// tools it spawns through PATH (tsx, npx) run on another Node, or if package.json's engines excludes it.
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { run } from '../helpers/server-process.js';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);

describe('the Node runtime of the suite', () => {
  it('is the major version CI asked for (EXPECT_NODE_MAJOR), when it asked', () => {
    const expected = process.env.EXPECT_NODE_MAJOR;
    if (expected) expect(major).toBe(Number(expected));
    else expect(major).toBeGreaterThanOrEqual(20);
  });

  it('is admitted by engines in package.json (>=20.19)', () => {
    const { engines } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      engines: { node: string };
    };
    expect(engines.node).toBe('>=20.19');
    expect(major > 20 || (major === 20 && minor >= 19)).toBe(true);
  });

  it('is also the `node` on PATH, which the tools the tests spawn (#!/usr/bin/env node) run on', async () => {
    const result = await run('node', ['-p', 'process.version'], { timeoutMs: 30_000 });
    expect(result.stdout.trim()).toBe(process.version);
  });

  it('loads the native image library (sharp, N-API) and encodes with it', async () => {
    const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#c00' } })
      .png()
      .toBuffer();
    expect((await sharp(png).metadata()).width).toBe(2);
  });
});
