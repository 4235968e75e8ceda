// `--cpu-prof` for a child that can only be given NODE_OPTIONS (Node 20 refuses --cpu-prof there):
// NODE_OPTIONS="--import ./bench/cpu-profile.mjs" CPU_PROFILE_DIR=dir starts the V8 sampling profiler at
// load and writes dir/server-PID.cpuprofile (open it in Chrome DevTools or speedscope) when the process exits.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.CPU_PROFILE_DIR ?? '.';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 500 });
session.post('Profiler.start');
// A session on the main thread answers synchronously, so the profile can be written in the exit handler.
process.on('exit', () => {
  session.post('Profiler.stop', (error, result) => {
    if (error) return void process.stderr.write(`cpu-profile: ${error.message}\n`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `server-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
