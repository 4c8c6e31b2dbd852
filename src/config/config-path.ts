import { resolve } from 'node:path';

export const DEFAULT_CONFIG_PATH = 'config/leadrelay.yaml';

/** The config path a command should use: `--config`, then `LEADRELAY_CONFIG`, then the default. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.LEADRELAY_CONFIG ?? DEFAULT_CONFIG_PATH);
}
