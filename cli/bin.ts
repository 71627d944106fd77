import { run } from './program';

/** Entry point of `gantry`: run through ./gantry.mjs (which loads tsx) or bundled as dist/gantry.mjs. */
const code = await run(process.argv);
// Let stdout drain into a pipe before the exit code is set in stone.
process.stdout.write('', () => process.exit(code));
