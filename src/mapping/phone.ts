import { filterSettings } from './engine.ts';
import { e164 } from './filters/e164.ts';

/**
 * One rule for phone numbers in every CRM connector: a number is *written*
 * in E.164 when it can be read (`+14155550100`), else as the visitor typed
 * it, so nothing they gave is lost; but a record is only ever *matched* on
 * the E.164 form, because "123 456 789" and "+48 123 456 789" must not be
 * two spellings of one key. A lead with no email and an unreadable phone
 * therefore cannot be matched, and says why.
 */
export function matchablePhone(written: string | undefined): string | undefined {
  if (!written) return undefined;
  return e164(written, filterSettings.phoneRegion) || undefined;
}

/** What to do about a phone that cannot be read, for a delivery's error. */
export function unreadablePhoneHint(): string {
  return `write it with its country code (+…), or set mapping.phone_region (now ${filterSettings.phoneRegion}) to the region such numbers come from`;
}
