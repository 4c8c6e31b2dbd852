import type { LoadedConfig } from './load-config.ts';

/**
 * The configuration in force. Readers take one snapshot per request
 * (`current`), so a reload never hands half of one version and half of
 * another to the same event.
 */
export class ConfigHolder {
  private config: LoadedConfig;
  /** The last rejected change, shown in `/readyz` until a valid one replaces it. */
  lastError: { message: string; at: Date } | undefined;

  constructor(initial: LoadedConfig) {
    this.config = initial;
  }

  get current(): LoadedConfig {
    return this.config;
  }

  replace(next: LoadedConfig): void {
    this.config = next;
    this.lastError = undefined;
  }

  rejectChange(message: string): void {
    this.lastError = { message, at: new Date() };
  }
}
