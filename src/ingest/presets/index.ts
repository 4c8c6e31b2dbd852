import { botpress } from './botpress.ts';
import { chatwoot } from './chatwoot.ts';
import { crisp } from './crisp.ts';
import { drift } from './drift.ts';
import { intercom } from './intercom.ts';
import { tidio } from './tidio.ts';
import type { SourcePreset } from './types.ts';

/** `sources.NAME.format` values that name a preset (docs/sources.md). */
export const SOURCE_PRESETS = { chatwoot, intercom, tidio, drift, crisp, botpress } as const satisfies Record<
  string,
  SourcePreset
>;

export type PresetName = keyof typeof SOURCE_PRESETS;
export const PRESET_NAMES = Object.keys(SOURCE_PRESETS) as PresetName[];
