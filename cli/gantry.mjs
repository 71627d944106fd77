#!/usr/bin/env node
// The `gantry` bin: registers tsx (resolved next to this file, so it works from any directory), then runs the TypeScript CLI.
import { register } from 'tsx/esm/api';

register();
await import('./bin.ts');
