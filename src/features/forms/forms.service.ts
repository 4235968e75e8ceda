// Forms as data: definitions checked and normalised, published in versions (immutable once published), retired;
// the built-in kinds keep the questions their summaries read (their role). The one cache of forms lives here: the
// catalogue (which forms and versions exist, which are retired), emptied in every process the moment one changes
// (LISTEN/NOTIFY through infra's listener; off while that connection is down), and each version's compiled zod
// schema and JSON Schemas, kept for good since a published definition never changes.
import type { z } from 'zod';
import type { RequestContext } from '../../infra/auth/actor.js';
import type { Listener } from '../../infra/db/listener.js';
import { AppError, bodyValidationError, type ProblemDetailItem } from '../../infra/errors.js';
import type { Language } from '../../infra/http/language.js';
import { compileAnswers, jsonSchemaOf, normaliseDefinition, pick } from './forms.definition.js';
import { FORMS_CHANNEL, type FormRow, type FormsRepository } from './forms.repository.js';
import type { FormDefinition, FormDefinitionInput, QuestionType } from './forms.schemas.js';

/** The kinds built in (by the migration 20261202120000_forms), whose role is their key. */
export const BUILTIN_KINDS = ['arrival', 'opening', 'voting', 'closing', 'results', 'incident'] as const;
export type BuiltinKind = (typeof BUILTIN_KINDS)[number];
export const INCIDENT_CATEGORIES = [
  'violence',
  'intimidation',
  'vote_buying',
  'coercion',
  'identity_fraud',
  'machine_failure',
  'materials_missing',
  'observer_denied',
  'witness_denied',
  'propaganda',
  'security_forces',
  'late_opening',
  'irregular_closing',
  'tally_irregularity',
  'other',
] as const;
export const INCIDENT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;

/**
 * The questions a role's summaries (and reports' rules) read: every version of a form with that role keeps each,
 * with its type, its options (more may be added), and — `always` — answered in every report (required or with a
 * default, never conditional).
 */
export const ROLE_QUESTIONS: Record<
  string,
  { key: string; type: QuestionType; options?: readonly string[]; always: boolean }[]
> = {
  opening: [{ key: 'openedAt', type: 'time', always: true }],
  incident: [
    { key: 'category', type: 'single', options: INCIDENT_CATEGORIES, always: true },
    { key: 'severity', type: 'single', options: INCIDENT_SEVERITIES, always: true },
    { key: 'ongoing', type: 'boolean', always: true },
  ],
  results: [
    { key: 'registeredVoters', type: 'integer', always: true },
    { key: 'validVotes', type: 'integer', always: true },
    { key: 'nullVotes', type: 'integer', always: true },
    { key: 'blankVotes', type: 'integer', always: false },
    { key: 'votes', type: 'tally', always: true },
  ],
};

/** A published version, compiled once. */
interface CompiledVersion {
  schema: z.ZodType<Record<string, unknown>>;
  jsonSchemas: Map<Language, Record<string, unknown>>;
}
interface VersionState {
  version: number;
  definition: FormDefinition;
  retired: boolean;
  createdAt: Date;
}
interface FormState {
  key: string;
  role: string | null;
  unit: 'centre' | 'table';
  createdAt: Date;
  versions: Map<number, VersionState>;
  /** The version reports get without `formVersion`: the latest not retired (the latest, when all are). */
  current: number;
}

/** A form version a report is validated against. */
export interface ResolvedForm {
  key: string;
  role: string | null;
  unit: 'centre' | 'table';
  version: number;
  /** As this process last heard: the insert checks it again exactly. */
  retired: boolean;
  /** The answers as stored (defaults filled, texts trimmed), or VALIDATION_FAILED naming each under `answers`. */
  parse(answers: Record<string, unknown>): Record<string, unknown>;
}

function stateOf(row: FormRow): FormState {
  const versions = new Map(
    row.versions.map((version) => [
      version.version,
      {
        version: version.version,
        definition: version.definition,
        retired: version.retiredAt !== null,
        createdAt: version.createdAt,
      },
    ]),
  );
  const numbers = [...versions.keys()].sort((a, b) => b - a);
  const current = numbers.find((number) => !versions.get(number)!.retired) ?? numbers[0] ?? 0;
  return { key: row.key, role: row.role, unit: row.unit, createdAt: row.createdAt, versions, current };
}

/** Problems of a role form's new version: each question a summary reads, kept as it must be. */
export function roleViolations(role: string | null, definition: FormDefinition): ProblemDetailItem[] {
  const problems: ProblemDetailItem[] = [];
  for (const rule of ROLE_QUESTIONS[role ?? ''] ?? []) {
    const index = definition.questions.findIndex((question) => question.key === rule.key);
    const question = definition.questions[index];
    const at = `questions.${index}`;
    const problem = (path: string, message: string) =>
      problems.push({ in: 'body', path, question: rule.key, message: `${rule.key}: ${message}` });
    if (!question) problem('questions', `the ${role} summaries read it: keep it (${rule.type})`);
    else if (question.type !== rule.type) problem(`${at}.type`, `must stay a ${rule.type} question`);
    else {
      const missing = (rule.options ?? []).filter((key) => !question.options?.some((option) => option.key === key));
      if (missing.length > 0) problem(`${at}.options`, `keep the options ${missing.join(', ')}`);
      if (rule.always && (question.relevant || (!question.required && question.default === undefined)))
        problem(`${at}.required`, 'must stay answered in every report (required, or with a default)');
    }
  }
  return problems;
}

export function createFormsService(deps: {
  repo: FormsRepository;
  /** Without one (the CLI), the catalogue is read on every use. */
  listener?: Pick<Listener, 'listening' | 'subscribe'>;
}) {
  const { repo, listener } = deps;
  let cached: Map<string, FormState> | undefined;
  // Bumped by every change: a read that started before one is not cached (it may predate the change).
  let generation = 0;
  const forget = () => {
    generation += 1;
    cached = undefined;
  };
  listener?.subscribe(FORMS_CHANNEL, { notified: forget, reset: forget });
  const compiled = new Map<string, CompiledVersion>();

  async function catalogue(): Promise<Map<string, FormState>> {
    if (cached && listener?.listening) return cached;
    const seen = generation;
    const order = (key: string) => {
      const index = (BUILTIN_KINDS as readonly string[]).indexOf(key);
      return index < 0 ? BUILTIN_KINDS.length : index;
    };
    // The built-ins in their order, then the mission's forms as created.
    const rows = (await repo.all()).sort((a, b) => order(a.key) - order(b.key));
    const forms = new Map(rows.map((row) => [row.key, stateOf(row)]));
    if (seen === generation && listener?.listening) cached = forms;
    return forms;
  }

  /** Form `key` as cached, or read again from the database when the cache lacks it (or its `version`). */
  async function formOf(key: string, version?: number): Promise<FormState | undefined> {
    const known = (await catalogue()).get(key);
    if (known && (version === undefined || known.versions.has(version))) return known;
    const row = await repo.find(key);
    if (!row) return undefined;
    // The cache missed a change (its notification is on its way): read it all again next time.
    forget();
    return stateOf(row);
  }

  function compile(key: string, state: VersionState): CompiledVersion {
    const id = `${key}#${state.version}`;
    let entry = compiled.get(id);
    if (!entry) {
      entry = { schema: compileAnswers(state.definition), jsonSchemas: new Map() };
      compiled.set(id, entry);
    }
    return entry;
  }

  function jsonSchema(key: string, state: VersionState, language: Language) {
    const entry = compile(key, state);
    let schema = entry.jsonSchemas.get(language);
    if (!schema) {
      schema = jsonSchemaOf(state.definition, language);
      entry.jsonSchemas.set(language, schema);
    }
    return schema;
  }

  function present(form: FormState, state: VersionState, language: Language) {
    const { definition } = state;
    return {
      key: form.key,
      kind: form.key,
      role: form.role,
      unit: form.unit,
      version: state.version,
      retired: state.retired,
      title: pick(definition.title, language),
      titles: definition.title,
      ...(definition.description ? { description: definition.description } : {}),
      versions: [...form.versions.values()]
        .sort((a, b) => a.version - b.version)
        .map((version) => ({ version: version.version, retired: version.retired })),
      questions: definition.questions,
      schema: jsonSchema(form.key, state, language),
      createdAt: state.createdAt.toISOString(),
    };
  }

  /** A definition as posted, normalised; VALIDATION_FAILED naming each problem (`questions.3.options`). */
  function definitionOf(input: FormDefinitionInput): FormDefinition {
    const { definition, problems } = normaliseDefinition(input);
    if (!definition) {
      throw new AppError('VALIDATION_FAILED', problems.map((item) => `${item.path}: ${item.message}`).join('; '), {
        errors: problems,
      });
    }
    return definition;
  }

  const notFound = (key: string) => new AppError('NOT_FOUND', `Form ${key} does not exist`);

  return {
    /** Every form at its current version, the built-ins first. */
    async list(language: Language) {
      return [...(await catalogue()).values()].map((form) => present(form, form.versions.get(form.current)!, language));
    },

    /** One form at `version` (default: its current one). */
    async get(key: string, language: Language, version?: number) {
      const form = await formOf(key, version);
      if (!form) throw notFound(key);
      const state = form.versions.get(version ?? form.current);
      if (!state) throw new AppError('NOT_FOUND', `Form ${key} has no version ${version}`);
      return present(form, state, language);
    },

    /** Whether a form `key` exists (a kind a filter may name). */
    async exists(key: string): Promise<boolean> {
      return (await formOf(key)) !== undefined;
    },

    /** Every version's definition of each form (the export's columns). */
    async definitions(): Promise<{ key: string; role: string | null; definitions: FormDefinition[] }[]> {
      return [...(await catalogue()).values()].map((form) => ({
        key: form.key,
        role: form.role,
        definitions: [...form.versions.values()].sort((a, b) => a.version - b.version).map((state) => state.definition),
      }));
    },

    /**
     * The form a report names by `kind`, at `version` (default: current): 400 VALIDATION_FAILED (path `kind`)
     * for no such form, 422 FORM_VERSION_UNKNOWN for no such version. A retired version resolves (retired: true):
     * a retry of a report stored before is still answered; the caller refuses new ones.
     */
    async resolve(kind: string, version?: number): Promise<ResolvedForm> {
      const form = await formOf(kind, version);
      if (!form) {
        throw new AppError('VALIDATION_FAILED', `kind: ${kind} is not a form (GET /v1/forms)`, {
          errors: [{ in: 'body', path: 'kind', message: `${kind} is not a form (GET /v1/forms)` }],
        });
      }
      const state = form.versions.get(version ?? form.current);
      if (!state) {
        throw new AppError(
          'FORM_VERSION_UNKNOWN',
          `Form ${kind} has no version ${version} (its versions: ${[...form.versions.keys()].join(', ')})`,
        );
      }
      const { schema } = compile(form.key, state);
      return {
        key: form.key,
        role: form.role,
        unit: form.unit,
        version: state.version,
        retired: state.retired,
        parse(answers) {
          const parsed = schema.safeParse(answers);
          if (parsed.success) return parsed.data;
          throw bodyValidationError(parsed.error.issues, ['answers']);
        },
      };
    },

    async create(context: RequestContext, input: FormDefinitionInput, language: Language) {
      const definition = definitionOf(input);
      if (!(await repo.create(context, definition)))
        throw new AppError('FORM_EXISTS', `A form ${definition.key} exists; publish a new version of it instead`);
      forget();
      return this.get(definition.key, language, 1);
    },

    /** The next version of form `key`: its unit unchanged, a role form keeping what its summaries read. */
    async publish(
      context: RequestContext,
      key: string,
      input: Omit<FormDefinitionInput, 'key'> & { key?: string | undefined },
      language: Language,
    ) {
      if (input.key !== undefined && input.key !== key) {
        throw new AppError('VALIDATION_FAILED', `key: the form is ${key}`, {
          errors: [{ in: 'body', path: 'key', message: `the form is ${key}; a version cannot rename it` }],
        });
      }
      const definition = definitionOf({ ...input, key });
      const version = await repo.publish(context, key, definition, (form) => {
        if (form.unit !== definition.unit)
          throw new AppError('FORM_UNIT_CHANGED', `Form ${key} is about a ${form.unit}; a version cannot change that`, {
            errors: [{ in: 'body', path: 'unit', message: `must stay ${form.unit}` }],
          });
        const violations = roleViolations(form.role, definition);
        if (violations.length > 0)
          throw new AppError(
            'FORM_ROLE_VIOLATION',
            `Form ${key} (role ${form.role}): ${violations.map((item) => item.message).join('; ')}`,
            { errors: violations },
          );
      });
      if (version === undefined) throw notFound(key);
      forget();
      return this.get(key, language, version);
    },

    /** Retires a version (idempotent): it accepts no new reports; stored ones, their retries and revisions stay. */
    async retire(context: RequestContext, key: string, version: number, language: Language) {
      const outcome = await repo.retire(context, key, version);
      if (!outcome) throw new AppError('NOT_FOUND', `Form ${key} has no version ${version}`);
      forget();
      return this.get(key, language, version);
    },
  };
}

export type FormsService = ReturnType<typeof createFormsService>;
