// npm postinstall: generates the Prisma client into src/generated/prisma (not committed) from
// prisma/schema.prisma, offline. `prisma generate` needs no schema engine, but the CLI looks for one:
// any existing file satisfies it. A production install (no prisma CLI) skips this: dist/ has the client.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const cli = 'node_modules/prisma/build/index.js';
if (!existsSync(cli)) {
  console.log('testigo: the prisma CLI is not installed (production install); not generating the client');
  process.exit(0);
}
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || 'package.json',
  CHECKPOINT_DISABLE: '1',
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
};
const result = spawnSync(process.execPath, [cli, 'generate'], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
