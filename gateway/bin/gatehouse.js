#!/usr/bin/env node
// The `gatehouse` executable: loads the TypeScript sources through tsx and runs the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Let pending output drain and handles close on their own; if something still holds the
// event loop open after a verb has finished, do not hang around for it.
setTimeout(() => process.exit(code), 2000).unref();
