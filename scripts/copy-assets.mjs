// Part of `npm run build`: copies the files tsc does not emit (the dashboard's static page) into dist/.
import { cpSync, rmSync } from 'node:fs';

const from = 'src/features/dashboard/public';
const to = 'dist/features/dashboard/public';
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
