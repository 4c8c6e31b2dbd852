import { register } from 'node:module';

register('./module-log-hooks.mjs', import.meta.url, { data: { file: process.env.LEADRELAY_MODULE_LOG } });
