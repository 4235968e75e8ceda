// The dashboard: a static page served by the API itself (GET /dashboard, and GET / redirects there). Its
// files are plain ES modules under ./public (copied next to the compiled module by `npm run build`), and
// the one library it loads from node_modules (eventsource-parser, to read the summaries stream) is served
// by explicit routes, file by file, under a versioned path cached for a year. Everything is public (the
// data comes from the API, which checks the token the page sends) and carries a Content-Security-Policy
// that allows only this origin.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { noneMatch } from '../../infra/http/conditional.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** src/features/dashboard or dist/features/dashboard: the project root is three folders up either way. */
const ROOT = join(HERE, '..', '..', '..');
export const PUBLIC_DIR = join(HERE, 'public');

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** The page's own files (short cache, revalidated by ETag). */
const PAGE_FILES = ['index.html', 'app.js', 'api.js', 'live.js', 'i18n.js', 'map.js', 'charts.js', 'dashboard.css'];

/** Library files the page imports, from node_modules: only these. */
const VENDOR = [{ name: 'eventsource-parser', files: ['dist/index.js', 'dist/parse.js', 'dist/errors.js'] }] as const;

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

function asset(path: string, cacheControl: string): Asset {
  const body = readFileSync(path);
  const extension = path.slice(path.lastIndexOf('.'));
  const type = TYPES[extension];
  if (!type) throw new Error(`dashboard: no content type for ${path}`);
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`, cacheControl };
}

function packageVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** URL of each vendor package's folder, e.g. /dashboard/vendor/eventsource-parser@4.1.3/. */
export function vendorBase(name: string): string {
  return `/dashboard/vendor/${name}@${packageVersion(name)}/`;
}

export async function dashboardRoutes(app: FastifyInstance, options: { publicSummaries: boolean }): Promise<void> {
  if (!existsSync(join(PUBLIC_DIR, 'index.html'))) {
    throw new Error(`dashboard: ${PUBLIC_DIR} has no index.html (does the build copy src/features/dashboard/public?)`);
  }
  const assets = new Map<string, Asset>();
  for (const file of PAGE_FILES) assets.set(`/dashboard/${file}`, asset(join(PUBLIC_DIR, file), 'no-cache'));
  assets.set('/dashboard', assets.get('/dashboard/index.html')!);
  // What the page needs to know before its first request: its libraries' versioned URLs, whether summaries are
  // public (no sign-in), and which of the endpoints it can use this server has (so it never asks for one that
  // is not there). A module built on first request, when every route is registered.
  let configModule: Asset | undefined;
  const pageConfig = (): Asset => {
    if (configModule) return configModule;
    const has = (url: string) => app.hasRoute({ method: 'GET', url });
    const settings = {
      publicSummaries: options.publicSummaries,
      features: {
        stream: has('/v1/summaries/stream'),
        geojson: has('/v1/summaries.geojson'),
        analysis: has('/v1/analysis'),
      },
      vendor: Object.fromEntries(VENDOR.map(({ name }) => [name, `${vendorBase(name)}dist/index.js`])),
    };
    const body = Buffer.from(`export default ${JSON.stringify(settings, null, 2)};\n`);
    configModule = {
      body,
      type: TYPES['.js']!,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      cacheControl: 'no-cache',
    };
    return configModule;
  };
  for (const { name, files } of VENDOR) {
    const base = vendorBase(name);
    for (const file of files) {
      assets.set(
        `${base}${file}`,
        asset(join(ROOT, 'node_modules', name, file), 'public, max-age=31536000, immutable'),
      );
    }
  }

  const send = (request: FastifyRequest, reply: FastifyReply, found: Asset) => {
    reply
      .header('content-type', found.type)
      .header('cache-control', found.cacheControl)
      .header('etag', found.etag)
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');
    if (noneMatch(request.headers['if-none-match'], found.etag)) return reply.code(304).send();
    return reply.send(found.body);
  };

  const config = { public: true };
  const schema = { hide: true };
  app.get('/', { config, schema }, async (_request, reply) => reply.redirect('/dashboard', 302));
  app.get('/dashboard/config.js', { config, schema }, async (request, reply) => send(request, reply, pageConfig()));
  for (const [url, found] of assets) {
    app.get(url, { config, schema }, async (request, reply) => send(request, reply, found));
  }
}
