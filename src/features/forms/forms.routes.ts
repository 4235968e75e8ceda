// HTTP routes of forms: the catalogue phones fetch (every form at its current version, with its JSON Schema), one
// version, and the admins' writes — a new form, its next version, a retirement.
import etag from '@fastify/etag';
import type { FastifyContextConfig, FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { contextOf } from '../../infra/auth/actor.js';
import { noneMatch } from '../../infra/http/conditional.js';
import { requestLanguage } from '../../infra/http/language.js';
import { problemResponses } from '../../infra/http/problems.js';
import {
  formDefinitionInput,
  formKeyParams,
  formsSchema,
  formVersionInput,
  formVersionParams,
  formVersionSchema,
  langQuery,
} from './forms.schemas.js';
import { INCIDENT_CATEGORIES } from './forms.service.js';

const admins = ['admin'] as const;

/** `publicForms` (PUBLIC_SUMMARIES): the forms are readable without a token, as their public analyses need their questions. */
export async function formsRoutes(app: FastifyInstance, options: { publicForms?: boolean } = {}): Promise<void> {
  const service = app.services.forms;
  const readable: FastifyContextConfig = options.publicForms ? { public: true } : {};
  const route = app.withTypeProvider<ZodTypeProvider>();

  await app.register(etag, { replyWith304: false });
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method !== 'GET') return payload;
    reply.header('cache-control', 'private, no-cache');
    reply.header('vary', 'accept-language');
    const tag = reply.getHeader('etag');
    if (reply.statusCode === 200 && typeof tag === 'string' && noneMatch(request.headers['if-none-match'], tag)) {
      reply.code(304);
      return '';
    }
    return payload;
  });
  const languages =
    'Titles and descriptions are in `?lang=` (en, es) or else the best of Accept-Language (English by default); ' +
    'every language is in `titles`, `questions[].label` and the schema’s `x-labels`.';

  route.get(
    '/v1/forms',
    {
      config: readable,
      schema: {
        tags: ['forms'],
        operationId: 'forms.list',
        summary: 'Every form at its current version, with its JSON Schema',
        description: `The built-in kinds first, then the mission's forms. ${languages} Carries an ETag.`,
        querystring: langQuery,
        response: { 200: formsSchema, ...problemResponses(400, 401, 429) },
      },
    },
    async (request) => ({
      items: await service.list(requestLanguage(request, request.query.lang)),
      incidentCategories: [...INCIDENT_CATEGORIES],
    }),
  );

  route.get(
    '/v1/forms/:key',
    {
      config: readable,
      schema: {
        tags: ['forms'],
        operationId: 'forms.get',
        summary: 'A form at its current version',
        description: `${languages} Carries an ETag.`,
        params: formKeyParams,
        querystring: langQuery,
        response: { 200: formVersionSchema, ...problemResponses(400, 401, 404, 429) },
      },
    },
    async (request) => service.get(request.params.key, requestLanguage(request, request.query.lang)),
  );

  route.get(
    '/v1/forms/:key/versions/:version',
    {
      config: readable,
      schema: {
        tags: ['forms'],
        operationId: 'forms.version',
        summary: 'One version of a form (retired ones included)',
        description: `${languages} A published version never changes (but for its retirement). Carries an ETag.`,
        params: formVersionParams,
        querystring: langQuery,
        response: { 200: formVersionSchema, ...problemResponses(400, 401, 404, 429) },
      },
    },
    async (request) =>
      service.get(request.params.key, requestLanguage(request, request.query.lang), request.params.version),
  );

  route.post(
    '/v1/forms',
    {
      config: { roles: admins },
      schema: {
        tags: ['forms'],
        operationId: 'forms.create',
        summary: 'Create a form (version 1)',
        description:
          'The definition is checked whole (400 VALIDATION_FAILED with each problem at its path, such as ' +
          '`questions.3.options`) and stored normalised. 409 FORM_EXISTS for a key in use. Audited.',
        querystring: langQuery,
        body: formDefinitionInput,
        response: { 201: formVersionSchema, ...problemResponses(400, 401, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      const form = await service.create(contextOf(request), request.body, requestLanguage(request, request.query.lang));
      request.log.info({ event: 'form.created', form: form.key }, 'form created');
      return reply.code(201).send(form);
    },
  );

  route.post(
    '/v1/forms/:key/versions',
    {
      config: { roles: admins },
      schema: {
        tags: ['forms'],
        operationId: 'forms.publish',
        summary: 'Publish the next version of a form (the whole definition again)',
        description:
          'Reports without `formVersion` get the new version; the earlier ones accept reports until retired. 422 ' +
          'FORM_UNIT_CHANGED for another unit; for a built-in form, 422 FORM_ROLE_VIOLATION when a question its ' +
          'summaries read is dropped, retyped, loses an option or may go unanswered. Audited.',
        params: formKeyParams,
        querystring: langQuery,
        body: formVersionInput,
        response: { 201: formVersionSchema, ...problemResponses(400, 401, 403, 404, 422, 429) },
      },
    },
    async (request, reply) => {
      const form = await service.publish(
        contextOf(request),
        request.params.key,
        request.body,
        requestLanguage(request, request.query.lang),
      );
      request.log.info({ event: 'form.published', form: form.key, version: form.version }, 'form version published');
      return reply.code(201).send(form);
    },
  );

  route.post(
    '/v1/forms/:key/versions/:version/retire',
    {
      config: { roles: admins },
      schema: {
        tags: ['forms'],
        operationId: 'forms.retire',
        summary: 'Retire a version: it accepts no new reports',
        description:
          'Idempotent (a retired version is answered as it is). New reports of it get 422 FORM_VERSION_RETIRED; ' +
          'retries of reports stored before are still answered, and stored reports may still be revised. Audited.',
        params: formVersionParams,
        querystring: langQuery,
        response: { 200: formVersionSchema, ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) =>
      service.retire(
        contextOf(request),
        request.params.key,
        request.params.version,
        requestLanguage(request, request.query.lang),
      ),
  );
}
