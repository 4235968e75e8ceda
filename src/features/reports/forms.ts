// The built-in report kinds as reports' rules name them. Forms are data now (src/features/forms: definitions,
// versions, the compiled schemas); what stays here is what reports and summaries read of the built-ins.
import { BUILTIN_KINDS, INCIDENT_CATEGORIES } from '../forms/forms.service.js';

export { INCIDENT_CATEGORIES };
/** A report's kind: the key of a form (the built-ins', or the mission's own). */
export type ReportKind = string;
/** The built-in kinds, in their order (summaries count each). */
export const REPORT_KINDS = [...BUILTIN_KINDS] as [(typeof BUILTIN_KINDS)[number], ...(typeof BUILTIN_KINDS)[number][]];
export type BuiltinKind = (typeof BUILTIN_KINDS)[number];

/** The answers of a results report (the questions its role keeps in every version; more may follow). */
export interface ResultsAnswers {
  registeredVoters: number;
  validVotes: number;
  nullVotes: number;
  blankVotes?: number | undefined;
  votes: Record<string, number>;
  citizenAudit?: boolean;
  [question: string]: unknown;
}
