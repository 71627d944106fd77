import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, LogLevel, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

/**
 * How every Gantry function is built and run in AWS: one module read by the stack (NodejsFunction)
 * and by bench/cold-start.ts (esbuild's API), so what is measured is what ships.
 */

/** The repository root: registry entries (`functions/...`) are relative to it. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The newest Node.js LTS that aws-cdk-lib offers. */
export const RUNTIME = Runtime.NODEJS_24_X;
export const ARCHITECTURE = Architecture.ARM_64;
const TARGET = 'node24';

/** Also set on every function (NODE_OPTIONS) and in the bench. */
export const NODE_OPTIONS = '--enable-source-maps';

// A CommonJS dependency that require()s a Node built-in keeps that call in ESM output, where it throws
// "Dynamic require is not supported" unless a real `require` exists.
const BANNER = "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

const MAIN_FIELDS = ['module', 'main'];

/**
 * The SDK is bundled, not taken from the runtime: the SDK the tests ran against is the SDK that
 * ships, and one minified file initialises faster than the runtime's SDK loaded file by file
 * (bench/cold-start.ts). Left out: the credential providers the default chain only `import()`s after
 * the environment's credentials (which Lambda always sets) were not found; if ever reached they
 * load from the runtime's own SDK.
 */
const EXTERNAL_MODULES: string[] = [
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@aws-sdk/credential-provider-login',
  '@smithy/credential-provider-imds',
];

/**
 * Files shipped beside the bundle, in its node_modules, for a module loaded at run time: shared/core/cel.ts
 * loads re2js at the first `matches()` pattern (146 KiB minified, more than the bundles have to spare,
 * and what most invocations never need). Relative to the repository's node_modules.
 */
export const BESIDE_BUNDLE = ['re2js/package.json', 're2js/LICENSE', 're2js/build/index.cjs'];

export const NODEJS_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: TARGET,
  mainFields: MAIN_FIELDS,
  banner: BANNER,
  minify: true,
  sourceMap: true,
  // Stack traces map to file and line without shipping the sources a second time.
  sourcesContent: false,
  externalModules: EXTERNAL_MODULES,
  bundleAwsSDK: true,
  logLevel: LogLevel.ERROR,
  commandHooks: {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (inputDir, outputDir) =>
      BESIDE_BUNDLE.map((file) => {
        const to = `${outputDir}/node_modules/${file}`;
        return `mkdir -p "${dirname(to)}" && cp "${inputDir}/node_modules/${file}" "${to}"`;
      }),
  },
};

/** The same build through esbuild's API: `outfile` should end in `.mjs`, as NodejsFunction's does. */
export function esbuildOptions(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: TARGET,
    mainFields: MAIN_FIELDS,
    banner: { js: BANNER },
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: EXTERNAL_MODULES,
    logLevel: 'error',
  };
}
