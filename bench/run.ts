// Runs the benchmarks: all of them, or those named (npm run bench -- startup registry-import).
import { analysisBench } from './analysis.js';
import { authBench } from './auth.js';
import { exportBench } from './export.js';
import { formsBench } from './forms.js';
import { ingestBench } from './ingest.js';
import { photosBench } from './photos.js';
import { regionsBench } from './regions.js';
import { registryImportBench } from './registry-import.js';
import { startupBench } from './startup.js';
import { summariesBench } from './summaries.js';
import { usersImportBench } from './users-import.js';

const benches: Record<string, () => Promise<void>> = {
  startup: startupBench,
  'registry-import': registryImportBench,
  auth: authBench,
  'users-import': usersImportBench,
  ingest: ingestBench,
  summaries: summariesBench,
  analysis: analysisBench,
  export: exportBench,
  forms: formsBench,
  photos: photosBench,
  regions: regionsBench,
};
const names = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
for (const name of names) {
  if (!(name in benches)) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
}
for (const name of names.length > 0 ? names : Object.keys(benches)) await benches[name]!();
