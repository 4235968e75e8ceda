// The one configuration of Testigo: environment variables parsed once, at start, by a zod schema.
import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULT_REGIONS_GEOJSON, loadBoundaries } from './features/geo/geo.boundaries.js';

const int = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);
const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** Proxy addresses: IPv4/IPv6, with an optional /prefix, or proxy-addr's names for address ranges. */
function isProxyAddress(value: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(value)) return true;
  const [address, prefix, extra] = value.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

/** TRUST_PROXY: false/true (every hop), a number of proxy hops, or proxy addresses/CIDRs separated by commas. */
const trustProxy = z
  .string()
  .trim()
  .default('false')
  .transform((value, ctx): boolean | number | string[] => {
    if (['true', 'yes'].includes(value)) return true;
    if (['false', 'no', '', '0'].includes(value)) return false;
    if (/^\d{1,3}$/.test(value)) return Number(value);
    const addresses = value.split(',').map((item) => item.trim());
    const wrong = addresses.filter((item) => !isProxyAddress(item));
    if (wrong.length > 0) {
      const quoted = wrong.map((item) => `"${item}"`).join(', ');
      ctx.addIssue({
        code: 'custom',
        message: `true, false, a hop count, or proxy addresses/CIDRs separated by commas (not ${quoted})`,
      });
      return z.NEVER;
    }
    return addresses;
  });

/**
 * Fastify's trustProxy for TRUST_PROXY. A hop count becomes a function trusting that many hops from the
 * socket (Fastify itself refuses plain numbers): the app must then be reachable only through the proxies.
 */
export function trustProxyOption(
  value: boolean | number | string[],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof value === 'number' ? (_address: string, hop: number) => hop < value : value;
}

export const configSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: int(3000, 0, 65535),
    HOST: z.string().min(1).default('127.0.0.1'),
    DATABASE_URL: z.preprocess(
      (value) => (value === '' ? undefined : value),
      z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgresql:// URL' }).optional(),
    ),
    DATA_DIR: z.string().min(1).default('./data'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DATABASE_POOL_MAX: int(10, 1, 200),
    REPORT_WRITES_IN_FLIGHT: int(2, 1, 100),
    DATABASE_READ_POOL_MAX: int(2, 1, 200),
    DATABASE_READ_QUEUE_MAX: int(16, 1, 100_000),
    EXPORT_MAX_CONCURRENT: int(2, 1, 10_000),
    RECOUNT_MAX_CONCURRENT: int(4, 1, 10_000),
    DATABASE_CONNECT_TIMEOUT_MS: int(3000, 100, 60_000),
    DATABASE_STATEMENT_TIMEOUT_MS: int(30_000, 100, 3_600_000),
    DATABASE_IDLE_TIMEOUT_MS: int(30_000, 1000, 3_600_000),
    MIGRATE_ON_START: bool(true),
    EMBEDDED_POSTGRES_PORT: int(0, 0, 65535),
    TRUST_PROXY: trustProxy,
    BODY_LIMIT_BYTES: int(1_048_576, 1024, 100 * 1_048_576),
    REGISTRY_IMPORT_MAX_BYTES: int(64 * 1_048_576, 1024, 1024 * 1_048_576),
    SHUTDOWN_GRACE_MS: int(10_000, 0, 600_000),
    IDLE_TIMEOUT_MS: int(60_000, 100, 3_600_000),
    REQUEST_TIMEOUT_MS: int(10 * 60_000, 1000, 24 * 3_600_000),
    MAX_EVENT_LOOP_DELAY_MS: int(1000, 0, 60_000),
    DOCS_ENABLED: bool(true),
    ADMIN_TOKEN: z.preprocess(
      (value) => (value === '' ? undefined : value),
      z
        .string()
        .min(32, 'must be at least 32 characters')
        .max(200)
        .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
        .optional(),
    ),
    RATE_LIMIT_PER_TOKEN: int(1200, 0, 1_000_000),
    RATE_LIMIT_PER_IP: int(600, 0, 1_000_000),
    RATE_LIMIT_WINDOW_MS: int(60_000, 1000, 3_600_000),
    AUTH_CACHE_TTL_MS: int(30_000, 0, 600_000),
    TOKEN_LAST_USED_FLUSH_MS: int(30_000, 100, 3_600_000),
    REPORT_MAX_CLOCK_SKEW_MS: int(5 * 60_000, 0, 24 * 3_600_000),
    REPORT_BATCH_MAX_BYTES: int(10 * 1_048_576, 1024, 100 * 1_048_576),
    STORAGE_DRIVER: z.enum(['local', 's3']).default('local'),
    S3_ENDPOINT: z.preprocess((value) => (value === '' ? undefined : value), z.url().optional()),
    S3_REGION: z.string().min(1).default('us-east-1'),
    S3_BUCKET: z.preprocess((value) => (value === '' ? undefined : value), z.string().min(3).max(63).optional()),
    S3_ACCESS_KEY_ID: z.preprocess((value) => (value === '' ? undefined : value), z.string().optional()),
    S3_SECRET_ACCESS_KEY: z.preprocess((value) => (value === '' ? undefined : value), z.string().optional()),
    S3_FORCE_PATH_STYLE: bool(true),
    S3_PREFIX: z
      .string()
      .regex(/^([A-Za-z0-9._-]+\/)*$/, 'empty, or path segments each ending in /')
      .default(''),
    PHOTO_MAX_BYTES: int(15 * 1_048_576, 1024, 200 * 1_048_576),
    PHOTO_MAX_PIXELS: int(60_000_000, 1_000, 1_000_000_000),
    PHOTO_MAX_DISTANCE_M: int(1000, 1, 1_000_000),
    PHOTO_STAGING_MAX_AGE_MS: int(10 * 60_000, 1_000, 24 * 3_600_000),
    PUBLIC_SUMMARIES: bool(false),
    STREAM_MAX_PER_TOKEN: int(4, 1, 100_000),
    STREAM_MAX_PER_IP: int(100, 1, 1_000_000),
    STREAM_HEARTBEAT_MS: int(15_000, 50, 600_000),
    STREAM_POLL_MS: int(250, 10, 60_000),
    STREAM_MIN_INTERVAL_MS: int(1000, 0, 60_000),
    // Read and checked here, so that a wrong file stops the start (exit 78) rather than the first map request.
    REGIONS_GEOJSON: z.preprocess(
      (value) => (value === '' ? undefined : value),
      z
        .string()
        .default(DEFAULT_REGIONS_GEOJSON)
        .superRefine((path, ctx) => {
          try {
            loadBoundaries(path);
          } catch (error) {
            ctx.addIssue({ code: 'custom', message: (error as Error).message });
          }
        }),
    ),
    USER_IMPORT_MAX_BYTES: int(5 * 1_048_576, 1024, 100 * 1_048_576),
    LOG_ORIGIN: z.preprocess(
      (value) => (value === '' ? undefined : value),
      z
        .string()
        .max(200)
        .regex(/^[\x21-\x2a\x2c-\x7e]+$/, 'printable ASCII without spaces or "+" (a C2SP key name)')
        .optional(),
    ),
    LOG_SIGNING_KEY: z.preprocess((value) => (value === '' ? undefined : value), z.string().optional()),
    LOG_ACTOR_SECRET: z.preprocess(
      (value) => (value === '' ? undefined : value),
      z.string().min(32, 'must be at least 32 characters').optional(),
    ),
    LOG_MERGE_DELAY_MS: int(2000, 100, 10_000),
    PUBLIC_LOG: bool(false),
  })
  .superRefine((config, ctx) => {
    if (config.STORAGE_DRIVER === 's3' && !config.S3_BUCKET)
      ctx.addIssue({ code: 'custom', path: ['S3_BUCKET'], message: 'required when STORAGE_DRIVER=s3' });
    if ((config.S3_ACCESS_KEY_ID === undefined) !== (config.S3_SECRET_ACCESS_KEY === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['S3_SECRET_ACCESS_KEY'],
        message: 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together',
      });
    }
    // A stalled upload must be cut (idle timeout) before the sweeper may take its staged file for a leftover.
    if (config.IDLE_TIMEOUT_MS >= config.PHOTO_STAGING_MAX_AGE_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['IDLE_TIMEOUT_MS'],
        message: `must be below PHOTO_STAGING_MAX_AGE_MS (${config.PHOTO_STAGING_MAX_AGE_MS})`,
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws a ConfigError naming every wrong variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  return parsed.data;
}
