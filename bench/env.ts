// Imported first by bench/run.ts: the logger reads its level when shared/adapters/log.ts is first loaded.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.GANTRY_LOG_LEVEL ??= 'ERROR';
