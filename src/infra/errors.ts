// The one catalogue of problems Testigo answers with (RFC 9457 application/problem+json).
// Codes are stable API: add new ones, never rename or reuse one. docs/errors.md is generated from this list.
// Each title is given in every supported language (src/infra/http/language.ts); the answer's language is
// negotiated by Accept-Language, and `code` never changes with it.
import type { Localized } from './http/language.js';

export const problemCatalogue = {
  VALIDATION_FAILED: {
    status: 400,
    title: { en: 'The request is not valid', es: 'La solicitud no es válida' },
    description: 'A parameter, header or body field failed validation; `errors[]` lists each one.',
  },
  MALFORMED_BODY: {
    status: 400,
    title: { en: 'The request body cannot be parsed', es: 'No se puede interpretar el cuerpo de la solicitud' },
    description: 'The body is not well-formed for its content type (for example broken JSON).',
  },
  BAD_REQUEST: {
    status: 400,
    title: { en: 'Bad request', es: 'Solicitud incorrecta' },
    description: 'The request cannot be processed as sent.',
  },
  NOT_FOUND: {
    status: 404,
    title: { en: 'Not found', es: 'No encontrado' },
    description: 'No resource at this address, or none the caller may see.',
  },
  ROUTE_NOT_FOUND: {
    status: 404,
    title: { en: 'No such route', es: 'No existe esa ruta' },
    description: 'No route matches this method and path.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    title: { en: 'Method not allowed', es: 'Método no permitido' },
    description: 'The route exists but not for this method.',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    title: { en: 'The request body is too large', es: 'El cuerpo de la solicitud es demasiado grande' },
    description: 'The body exceeds the configured limit for this route.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: { en: 'Unsupported media type', es: 'Tipo de contenido no admitido' },
    description: 'The Content-Type of the body is not accepted by this route.',
  },
  REGISTRY_CSV_INVALID: {
    status: 422,
    title: { en: 'The registry file is not valid', es: 'El archivo del registro no es válido' },
    description:
      'The CSV has a missing column, a bad value, a duplicate table, or a code that contradicts the registry; ' +
      '`errors[]` names each line. Nothing was written.',
  },
  IMPORT_FILE_MISSING: {
    status: 400,
    title: { en: 'No file to import', es: 'No hay ningún archivo para importar' },
    description: 'A multipart import needs a `file` part; a text/csv import needs a body.',
  },
  AUTH_REQUIRED: {
    status: 401,
    title: { en: 'Authentication required', es: 'Se requiere autenticación' },
    description: 'Send `Authorization: Bearer <token>`.',
  },
  AUTH_INVALID_TOKEN: {
    status: 401,
    title: { en: 'The token is not valid', es: 'El token no es válido' },
    description: 'The token is unknown, expired or revoked, or its user is deactivated.',
  },
  FORBIDDEN: {
    status: 403,
    title: { en: 'Forbidden', es: 'No tiene permiso para hacer esto' },
    description: "The caller's role or scope does not allow this, or a field the caller may not set was sent.",
  },
  USER_EXTERNAL_ID_TAKEN: {
    status: 409,
    title: { en: 'The external id is taken', es: 'El identificador externo ya está en uso' },
    description: 'The `externalId` is in use. Only admins are told which user holds it.',
  },
  USER_LAST_ADMIN: {
    status: 409,
    title: { en: 'The last administrator', es: 'Es el último administrador' },
    description: 'The only active admin cannot be deactivated or lose the admin role.',
  },
  USER_NOT_OBSERVER: {
    status: 409,
    title: { en: 'Not an observer', es: 'No es un observador' },
    description: 'Only observers have centre assignments.',
  },
  REGION_UNKNOWN: {
    status: 422,
    title: { en: 'Unknown region', es: 'Región desconocida' },
    description: 'The region code is not in the registry.',
  },
  ASSIGNMENT_INVALID: {
    status: 422,
    title: { en: 'The assignment is not valid', es: 'La asignación no es válida' },
    description: "A centre code is not in the registry, or lies outside the observer's scope; `errors[]` lists each.",
  },
  USERS_CSV_INVALID: {
    status: 422,
    title: { en: 'The observers file is not valid', es: 'El archivo de observadores no es válido' },
    description:
      'The CSV has a missing column, a bad value, a duplicate external id or an unknown or out-of-scope centre; ' +
      '`errors[]` names each line. Nothing was written.',
  },
  TOKEN_EXPIRY_INVALID: {
    status: 422,
    title: { en: 'The expiry is not valid', es: 'La fecha de vencimiento no es válida' },
    description: '`expiresAt` must lie in the future, at most 400 days ahead.',
  },
  ELECTION_NOT_SET: {
    status: 409,
    title: { en: 'No election is set', es: 'No se ha configurado ninguna elección' },
    description: 'An admin must PUT /v1/election (with its candidates) first.',
  },
  ELECTION_CANDIDATE_IN_USE: {
    status: 409,
    title: { en: 'A candidate has results', es: 'El candidato ya tiene resultados' },
    description: 'A candidate that results reports count votes for cannot be removed.',
  },
  REPORT_CONFLICT: {
    status: 409,
    title: { en: 'A different report has this id', es: 'Ya existe otro reporte con este identificador' },
    description:
      'The id was used for a report with other content, or one the caller may not read; `fields` names what differs ' +
      '(only to those who may read it). Send a new id, or a revision; for a review, the report was revised since.',
  },
  REPORT_INVALID: {
    status: 422,
    title: { en: 'The report cannot be accepted', es: 'No se puede aceptar el reporte' },
    description:
      'An unknown centre, table or candidate, a time in the future, or a centre not assigned to the observer; ' +
      '`errors[]` says which.',
  },
  FORM_EXISTS: {
    status: 409,
    title: { en: 'A form has this key', es: 'Ya existe un formulario con esta clave' },
    description: 'The key names an existing form; publish a new version of it (POST /v1/forms/{key}/versions).',
  },
  FORM_UNIT_CHANGED: {
    status: 422,
    title: { en: 'The form is about another unit', es: 'El formulario trata de otra unidad' },
    description: 'A version cannot change what one report is about (`unit`: centre or table).',
  },
  FORM_ROLE_VIOLATION: {
    status: 422,
    title: { en: 'The version drops what a summary reads', es: 'La versión quita lo que lee un resumen' },
    description:
      'A version of a built-in form must keep each question its summaries read, with its type, its options and ' +
      'answered in every report; `errors[]` names each question.',
  },
  FORM_VERSION_UNKNOWN: {
    status: 422,
    title: { en: 'No such version of the form', es: 'No existe esa versión del formulario' },
    description: 'The report names a `formVersion` the form never had (GET /v1/forms/{key} lists its versions).',
  },
  FORM_VERSION_RETIRED: {
    status: 422,
    title: { en: 'The form version is retired', es: 'La versión del formulario está retirada' },
    description:
      'The version accepts no new reports; fetch the current one (GET /v1/forms) and fill it in. Retries of reports ' +
      'stored before are still answered, and stored reports may still be revised.',
  },
  REVIEW_NOT_ALLOWED: {
    status: 403,
    title: { en: 'The review cannot be recorded', es: 'No se puede registrar la revisión' },
    description: 'Nobody reviews a report they submitted or wrote any revision of.',
  },
  PHOTO_FILE_MISSING: {
    status: 400,
    title: { en: 'No photo', es: 'Falta la foto' },
    description: 'The multipart body needs one part named `file`.',
  },
  PHOTO_TOO_MANY_FILES: {
    status: 400,
    title: { en: 'More than one file', es: 'Más de un archivo' },
    description: 'Send one photo per request.',
  },
  PHOTO_TYPE_UNSUPPORTED: {
    status: 415,
    title: { en: 'Not a supported image', es: 'No es una imagen admitida' },
    description:
      'Decided by the bytes, not the name or header: JPEG, PNG, WebP and HEIC/HEIF only, with nothing hidden after ' +
      'the image.',
  },
  PHOTO_TOO_MANY_PIXELS: {
    status: 422,
    title: { en: 'The image is too large in pixels', es: 'La imagen tiene demasiados píxeles' },
    description: 'Its header declares more pixels than PHOTO_MAX_PIXELS (a decompression bomb, or not a phone photo).',
  },
  PHOTO_THUMBNAIL_UNAVAILABLE: {
    status: 422,
    title: { en: 'No thumbnail for this photo', es: 'No hay miniatura para esta foto' },
    description:
      'The image cannot be decoded here (HEIC without a decoder, or damaged data); the original is still served.',
  },
  GEO_BOUNDARIES_MISSING: {
    status: 422,
    title: { en: 'No boundaries for these regions', es: 'No hay límites geográficos para estas regiones' },
    description:
      'The boundaries file (REGIONS_GEOJSON) has no feature whose `properties.code` is one of the regions asked ' +
      'for: give it the boundaries of that level, or ask for another level.',
  },
  LOG_RANGE_INVALID: {
    status: 400,
    title: { en: 'Outside the log', es: 'Fuera del registro público' },
    description:
      'An index, size or range of the log that is not in its latest checkpoint (or is the wrong way round, or asks ' +
      'more than 1,000 entries at once); `detail` says which.',
  },
  RANGE_NOT_SATISFIABLE: {
    status: 416,
    title: { en: 'Range not satisfiable', es: 'El rango pedido está fuera del archivo' },
    description: 'The requested byte range lies outside the file.',
  },
  RATE_LIMITED: {
    status: 429,
    title: { en: 'Too many requests', es: 'Demasiadas solicitudes' },
    description: 'Slow down; `Retry-After` says when to try again.',
  },
  TOO_MANY_STREAMS: {
    status: 429,
    title: { en: 'Too many open streams', es: 'Demasiadas conexiones de seguimiento abiertas' },
    description:
      'This token (STREAM_MAX_PER_TOKEN) or address (STREAM_MAX_PER_IP) has as many summary streams open as it may; ' +
      'close one, or retry after `Retry-After` seconds.',
  },
  INTERNAL: {
    status: 500,
    title: { en: 'Internal server error', es: 'Error interno del servidor' },
    description: 'An unexpected error. Its details are logged under the request id, never returned.',
  },
  SERVICE_OVERLOADED: {
    status: 503,
    title: { en: 'The service is overloaded', es: 'El servicio está sobrecargado' },
    description: 'The server sheds load to stay responsive; retry after `Retry-After` seconds.',
  },
  STORAGE_FULL: {
    status: 507,
    title: { en: 'The photo store is full', es: 'El almacén de fotos está lleno' },
    description:
      'The disk or bucket that holds photos has no room left; nothing was stored. Operators are alerted; retry after ' +
      '`Retry-After` seconds.',
  },
  STORAGE_UNAVAILABLE: {
    status: 503,
    title: { en: 'The photo store is unavailable', es: 'El almacén de fotos no está disponible' },
    description:
      'The blob store (local disk or S3) cannot be reached or failed, or a staged upload was lost; nothing was ' +
      'stored. Retry after `Retry-After` seconds.',
  },
  DATABASE_UNAVAILABLE: {
    status: 503,
    title: { en: 'The database is unavailable', es: 'La base de datos no está disponible' },
    description: 'PostgreSQL cannot be reached or timed out; retry later.',
  },
  DATABASE_CONFLICT: {
    status: 503,
    title: { en: 'The write could not be completed', es: 'No se pudo completar la escritura' },
    description:
      'PostgreSQL rolled the write back because it met concurrent writes (a deadlock or a serialization failure), ' +
      "and so did the server's own retries; nothing was stored. Retry after `Retry-After` seconds.",
  },
  NOT_READY: {
    status: 503,
    title: { en: 'Not ready', es: 'El servicio aún no está listo' },
    description: 'The database is unreachable or its migrations are not applied.',
  },
  SHUTTING_DOWN: {
    status: 503,
    title: { en: 'The server is shutting down', es: 'El servidor se está deteniendo' },
    description: 'Retry on another instance or in a moment.',
  },
} as const satisfies Record<string, { status: number; title: Localized; description: string }>;

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
    super(detail ?? problemCatalogue[code].title.en);
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
