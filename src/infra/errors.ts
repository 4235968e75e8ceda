// The one catalogue of problems Testigo answers with (RFC 9457 application/problem+json).
// Codes are stable API: add new ones, never rename or reuse one. docs/errors.md is generated from this list.

export const problemCatalogue = {
  VALIDATION_FAILED: {
    status: 400,
    title: 'The request is not valid',
    description: 'A parameter, header or body field failed validation; `errors[]` lists each one.',
  },
  MALFORMED_BODY: {
    status: 400,
    title: 'The request body cannot be parsed',
    description: 'The body is not well-formed for its content type (for example broken JSON).',
  },
  BAD_REQUEST: { status: 400, title: 'Bad request', description: 'The request cannot be processed as sent.' },
  NOT_FOUND: {
    status: 404,
    title: 'Not found',
    description: 'No resource at this address, or none the caller may see.',
  },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route', description: 'No route matches this method and path.' },
  METHOD_NOT_ALLOWED: {
    status: 405,
    title: 'Method not allowed',
    description: 'The route exists but not for this method.',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    title: 'The request body is too large',
    description: 'The body exceeds the configured limit for this route.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: 'Unsupported media type',
    description: 'The Content-Type of the body is not accepted by this route.',
  },
  REGISTRY_CSV_INVALID: {
    status: 422,
    title: 'The registry file is not valid',
    description:
      'The CSV has a missing column, a bad value, a duplicate table, or a code that contradicts the registry; ' +
      '`errors[]` names each line. Nothing was written.',
  },
  IMPORT_FILE_MISSING: {
    status: 400,
    title: 'No file to import',
    description: 'A multipart import needs a `file` part; a text/csv import needs a body.',
  },
  AUTH_REQUIRED: {
    status: 401,
    title: 'Authentication required',
    description: 'Send `Authorization: Bearer <token>`.',
  },
  AUTH_INVALID_TOKEN: {
    status: 401,
    title: 'The token is not valid',
    description: 'The token is unknown, expired or revoked, or its user is deactivated.',
  },
  FORBIDDEN: {
    status: 403,
    title: 'Forbidden',
    description: "The caller's role or scope does not allow this, or a field the caller may not set was sent.",
  },
  USER_EXTERNAL_ID_TAKEN: {
    status: 409,
    title: 'The external id is taken',
    description: 'The `externalId` is in use. Only admins are told which user holds it.',
  },
  USER_LAST_ADMIN: {
    status: 409,
    title: 'The last administrator',
    description: 'The only active admin cannot be deactivated or lose the admin role.',
  },
  USER_NOT_OBSERVER: { status: 409, title: 'Not an observer', description: 'Only observers have centre assignments.' },
  REGION_UNKNOWN: { status: 422, title: 'Unknown region', description: 'The region code is not in the registry.' },
  ASSIGNMENT_INVALID: {
    status: 422,
    title: 'The assignment is not valid',
    description: "A centre code is not in the registry, or lies outside the observer's scope; `errors[]` lists each.",
  },
  USERS_CSV_INVALID: {
    status: 422,
    title: 'The observers file is not valid',
    description:
      'The CSV has a missing column, a bad value, a duplicate external id or an unknown or out-of-scope centre; ' +
      '`errors[]` names each line. Nothing was written.',
  },
  TOKEN_EXPIRY_INVALID: {
    status: 422,
    title: 'The expiry is not valid',
    description: '`expiresAt` must lie in the future, at most 400 days ahead.',
  },
  ELECTION_NOT_SET: {
    status: 409,
    title: 'No election is set',
    description: 'An admin must PUT /v1/election (with its candidates) first.',
  },
  ELECTION_CANDIDATE_IN_USE: {
    status: 409,
    title: 'A candidate has results',
    description: 'A candidate that results reports count votes for cannot be removed.',
  },
  REPORT_CONFLICT: {
    status: 409,
    title: 'A different report has this id',
    description:
      'The id was used for a report with other content, or one the caller may not read; `fields` names what differs ' +
      '(only to those who may read it). Send a new id, or a revision; for a review, the report was revised since.',
  },
  REPORT_INVALID: {
    status: 422,
    title: 'The report cannot be accepted',
    description:
      'An unknown centre, table or candidate, a time in the future, or a centre not assigned to the observer; ' +
      '`errors[]` says which.',
  },
  FORM_EXISTS: {
    status: 409,
    title: 'A form has this key',
    description: 'The key names an existing form; publish a new version of it (POST /v1/forms/{key}/versions).',
  },
  FORM_UNIT_CHANGED: {
    status: 422,
    title: 'The form is about another unit',
    description: 'A version cannot change what one report is about (`unit`: centre or table).',
  },
  FORM_ROLE_VIOLATION: {
    status: 422,
    title: 'The version drops what a summary reads',
    description:
      'A version of a built-in form must keep each question its summaries read, with its type, its options and ' +
      'answered in every report; `errors[]` names each question.',
  },
  FORM_VERSION_UNKNOWN: {
    status: 422,
    title: 'No such version of the form',
    description: 'The report names a `formVersion` the form never had (GET /v1/forms/{key} lists its versions).',
  },
  FORM_VERSION_RETIRED: {
    status: 422,
    title: 'The form version is retired',
    description:
      'The version accepts no new reports; fetch the current one (GET /v1/forms) and fill it in. Retries of reports ' +
      'stored before are still answered, and stored reports may still be revised.',
  },
  REVIEW_NOT_ALLOWED: {
    status: 403,
    title: 'The review cannot be recorded',
    description: 'Nobody reviews a report they submitted or wrote any revision of.',
  },
  PHOTO_FILE_MISSING: {
    status: 400,
    title: 'No photo',
    description: 'The multipart body needs one part named `file`.',
  },
  PHOTO_TOO_MANY_FILES: { status: 400, title: 'More than one file', description: 'Send one photo per request.' },
  PHOTO_TYPE_UNSUPPORTED: {
    status: 415,
    title: 'Not a supported image',
    description:
      'Decided by the bytes, not the name or header: JPEG, PNG, WebP and HEIC/HEIF only, with nothing hidden after ' +
      'the image.',
  },
  PHOTO_TOO_MANY_PIXELS: {
    status: 422,
    title: 'The image is too large in pixels',
    description: 'Its header declares more pixels than PHOTO_MAX_PIXELS (a decompression bomb, or not a phone photo).',
  },
  PHOTO_THUMBNAIL_UNAVAILABLE: {
    status: 422,
    title: 'No thumbnail for this photo',
    description:
      'The image cannot be decoded here (HEIC without a decoder, or damaged data); the original is still served.',
  },
  RANGE_NOT_SATISFIABLE: {
    status: 416,
    title: 'Range not satisfiable',
    description: 'The requested byte range lies outside the file.',
  },
  RATE_LIMITED: {
    status: 429,
    title: 'Too many requests',
    description: 'Slow down; `Retry-After` says when to try again.',
  },
  INTERNAL: {
    status: 500,
    title: 'Internal server error',
    description: 'An unexpected error. Its details are logged under the request id, never returned.',
  },
  SERVICE_OVERLOADED: {
    status: 503,
    title: 'The service is overloaded',
    description: 'The server sheds load to stay responsive; retry after `Retry-After` seconds.',
  },
  STORAGE_FULL: {
    status: 507,
    title: 'The photo store is full',
    description:
      'The disk or bucket that holds photos has no room left; nothing was stored. Operators are alerted; retry after ' +
      '`Retry-After` seconds.',
  },
  STORAGE_UNAVAILABLE: {
    status: 503,
    title: 'The photo store is unavailable',
    description:
      'The blob store (local disk or S3) cannot be reached or failed, or a staged upload was lost; nothing was ' +
      'stored. Retry after `Retry-After` seconds.',
  },
  DATABASE_UNAVAILABLE: {
    status: 503,
    title: 'The database is unavailable',
    description: 'PostgreSQL cannot be reached or timed out; retry later.',
  },
  NOT_READY: {
    status: 503,
    title: 'Not ready',
    description: 'The database is unreachable or its migrations are not applied.',
  },
  SHUTTING_DOWN: {
    status: 503,
    title: 'The server is shutting down',
    description: 'Retry on another instance or in a moment.',
  },
} as const satisfies Record<string, { status: number; title: string; description: string }>;

export type ProblemCode = keyof typeof problemCatalogue;

/** One entry of `errors[]`: where the problem is and what is wrong. */
export interface ProblemDetailItem {
  message: string;
  /** Where: `body`, `querystring`, `params`, `headers`, or `line` for files. */
  in?: string;
  path?: string;
  line?: number;
  [key: string]: unknown;
}

/** An error that becomes a problem+json response; throw it anywhere below a route. */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ProblemCode,
    readonly detail?: string,
    readonly extra: { errors?: ProblemDetailItem[]; headers?: Record<string, string>; [key: string]: unknown } = {},
  ) {
    super(detail ?? problemCatalogue[code].title);
    this.name = 'AppError';
    this.status = problemCatalogue[code].status;
  }
}

export const problemType = (code: ProblemCode): string =>
  `urn:testigo:problem:${code.toLowerCase().replaceAll('_', '-')}`;

/** VALIDATION_FAILED for a body that a zod schema refused, each issue named by its dotted path (under `prefix`). */
export function bodyValidationError(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  prefix: string[] = [],
): AppError {
  const errors = issues.map((issue) => ({
    in: 'body',
    path: [...prefix, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  return new AppError('VALIDATION_FAILED', errors.map((error) => `${error.path}: ${error.message}`).join('; '), {
    errors,
  });
}
