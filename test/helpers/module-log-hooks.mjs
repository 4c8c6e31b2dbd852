// Module hooks that append every module URL loaded to LEADRELAY_MODULE_LOG:
// how a test proves which code a command loads (`--import` this file's
// register-module-log.mjs sibling).
import { appendFileSync } from 'node:fs';

let file;
export function initialize(data) {
  file = data.file;
}

export async function load(url, context, nextLoad) {
  appendFileSync(file, `${url}\n`);
  return nextLoad(url, context);
}
