// Entry for tests: the CLI straight from the TypeScript sources.
import { main } from '../../ts/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
