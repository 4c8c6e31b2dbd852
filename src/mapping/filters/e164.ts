import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';

/**
 * A phone number in E.164 (`+14155550100`), read with `region` for numbers
 * written without a country code. A number that cannot be read yields the
 * empty string, so the field is omitted rather than sent malformed.
 *
 * @example
 * e164('(415) 555-0100', 'US') // '+14155550100'
 * e164('+44 20 7946 0958')     // '+442079460958'
 */
export function e164(value: unknown, region?: string): string {
  if (typeof value !== 'string' && typeof value !== 'number') return '';
  const parsed = parsePhoneNumberFromString(
    String(value),
    region ? (region.toUpperCase() as CountryCode) : undefined,
  );
  return parsed?.isPossible() ? parsed.number : '';
}
