import type { LoadedConfig } from './load-config.ts';

/**
 * The configuration in force. Readers take one snapshot per request
 * (`current`), so a reload never hands half of one version and half of
 * another to the same event.
 */
export class ConfigHolder {
  private config: LoadedConfig;
  private readonly listeners = new Set<(previous: LoadedConfig, next: LoadedConfig) => void>();
  /** The last rejected change, shown in `/readyz` until a valid one replaces it. */
  lastError: { message: string; at: Date } | undefined;

  constructor(initial: LoadedConfig) {
    this.config = initial;
  }

  get current(): LoadedConfig {
    return this.config;
  }

  replace(next: LoadedConfig): void {
    const previous = this.config;
    this.config = next;
    this.lastError = undefined;
    for (const listener of this.listeners) listener(previous, next);
  }

  /** Calls `listener` after each accepted change; returns a function that stops it. */
  onReplace(listener: (previous: LoadedConfig, next: LoadedConfig) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  rejectChange(message: string): void {
    this.lastError = { message, at: new Date() };
  }
}
