// Problem titles in English and Spanish: the catalogue has both, and the API picks by Accept-Language (RFC 9110
// negotiation with q-values; English by default), with Content-Language and Vary; `code` never changes.
import { describe, expect, it } from 'vitest';
import { AppError, problemCatalogue } from '../../src/infra/errors.js';
import { negotiateLanguage, requestLanguage, SUPPORTED_LANGUAGES } from '../../src/infra/http/language.js';
import { problemDocument } from '../../src/infra/http/problems.js';
import { as } from '../helpers/actors.js';
import { setupTestApp } from '../helpers/app.js';

const { app, admin } = await setupTestApp();
const SPANISH = 'es-VE,es;q=0.9';

describe('the problem catalogue', () => {
  it('gives every code a title in every supported language, English and Spanish', () => {
    expect(SUPPORTED_LANGUAGES).toEqual(['en', 'es']);
    for (const [code, entry] of Object.entries(problemCatalogue)) {
      for (const language of SUPPORTED_LANGUAGES) expect(entry.title[language], `${code} ${language}`).toMatch(/\S/);
      expect(Object.keys(entry.title).sort(), code).toEqual([...SUPPORTED_LANGUAGES].sort());
    }
    // Translated, not copied: only a few titles may read alike in both languages.
    const alike = Object.entries(problemCatalogue).filter(([, entry]) => (entry.title.en as string) === entry.title.es);
    expect(alike).toEqual([]);
  });

  it('gives a problem without its own detail the title as detail, in the chosen language', () => {
    const request = { id: 'r1', url: '/x?y=1', headers: {} } as never;
    expect(problemDocument(request, new AppError('NOT_FOUND'), 'es')).toMatchObject({
      title: 'No encontrado',
      detail: 'No encontrado',
      code: 'NOT_FOUND',
    });
    expect(problemDocument(request, new AppError('NOT_FOUND', 'Centre 1 does not exist'), 'es').detail).toBe(
      'Centre 1 does not exist',
    );
  });
});

describe('negotiation (Accept-Language)', () => {
  const supported = SUPPORTED_LANGUAGES;
  it.each([
    [undefined, 'en'],
    ['', 'en'],
    ['es', 'es'],
    ['es-VE', 'es'],
    [SPANISH, 'es'],
    ['en-US,en;q=0.9', 'en'],
    ['fr', 'en'],
    ['fr-CA, fr;q=0.9, es;q=0.5', 'es'],
    ['*', 'en'],
    ['es;q=0.2, en;q=0.3', 'en'],
    ['en;q=0.5, es;q=0.8', 'es'],
    ['es;q=0, *;q=0.1', 'en'],
    ['en;q=0, es;q=0.1', 'es'],
  ])('%j → %s', (header, expected) => {
    expect(negotiateLanguage(header, supported)).toBe(expected);
  });

  it('is generic over the supported list, and an explicit ?lang= a route passes wins when supported', () => {
    expect(negotiateLanguage('pt-BR, es;q=0.5', ['en', 'es', 'pt'])).toBe('pt');
    expect(requestLanguage({ headers: { 'accept-language': 'en' } }, 'es')).toBe('es');
    expect(requestLanguage({ headers: { 'accept-language': 'es' } }, 'fr')).toBe('es');
    expect(requestLanguage({ headers: {} }, null)).toBe('en');
  });
});

describe('problems answered in the negotiated language', () => {
  const cases = [
    {
      status: 404,
      code: 'ROUTE_NOT_FOUND',
      es: 'No existe esa ruta',
      en: 'No such route',
      send: { url: '/v1/nothing' },
    },
    {
      status: 400,
      code: 'VALIDATION_FAILED',
      es: 'La solicitud no es válida',
      en: 'The request is not valid',
      send: { url: '/v1/summaries?level=county', headers: admin.headers },
    },
    {
      status: 401,
      code: 'AUTH_REQUIRED',
      es: 'Se requiere autenticación',
      en: 'Authentication required',
      send: { url: '/v1/users' },
    },
  ];

  it.each(cases)('$status $code in Spanish for es-VE,es;q=0.9, with Content-Language and Vary', async (item) => {
    const response = await app.inject({ ...item.send, headers: { ...item.send.headers, 'accept-language': SPANISH } });
    expect(response.statusCode).toBe(item.status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.headers['content-language']).toBe('es');
    expect(String(response.headers.vary)).toMatch(/accept-language/i);
    expect(response.json()).toMatchObject({ code: item.code, title: item.es, status: item.status });
  });

  it.each(cases)('$status $code in English by default and for fr; the same code', async (item) => {
    for (const language of [undefined, 'fr', 'fr-FR, de;q=0.5', 'es;q=0.1, en;q=0.9']) {
      const headers = { ...item.send.headers, ...(language ? { 'accept-language': language } : {}) };
      const response = await app.inject({ ...item.send, headers });
      expect(response.statusCode).toBe(item.status);
      expect(response.headers['content-language'], language).toBe('en');
      expect(response.json(), language).toMatchObject({ code: item.code, title: item.en });
    }
  });

  it('keeps Vary: authorization on private summaries and adds Accept-Language', async () => {
    const response = await as(
      app,
      admin,
    )({ url: '/v1/summaries?level=state&parent=99', headers: { 'accept-language': 'es' } });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'NOT_FOUND', title: 'No encontrado' });
    const vary = String(response.headers.vary).toLowerCase();
    expect(vary).toContain('authorization');
    expect(vary).toContain('accept-language');
  });

  it('answers the items of a batch in the batch request language', async () => {
    const response = await as(
      app,
      admin,
    )({
      method: 'POST',
      url: '/v1/reports/batch',
      headers: { 'accept-language': 'es' },
      payload: { reports: [{ id: 'not-a-uuid' }] },
    });
    expect(response.statusCode, response.body).toBe(200);
    const [item] = response.json().results;
    expect(item.problem).toMatchObject({ code: 'VALIDATION_FAILED', title: 'La solicitud no es válida' });
  });
});
