import type { Record as SfRecord } from 'jsforce';
import { PermanentError } from '../errors.ts';
import type { SalesforceError } from './errors.ts';
import type { MatchKey } from './plan.ts';
import type { RecordObject } from './settings.ts';

/*
 * Pairing Salesforce's answers with our events, and refusing to guess: when
 * a match key finds more than one record, the delivery is dead with the ids
 * to merge, never written to one of them at random.
 */

/** A record a look-up found for an event. */
export interface Found {
  object: RecordObject;
  id: string;
  convertedFrom?: string | undefined;
  /** The record's Email as the look-up read it (a converted Lead's, for its Contact). */
  email?: string | undefined;
}

/** Whether a record found by a look-up is the one this match key asked for. */
export function matches(record: SfRecord, match: MatchKey): boolean {
  const value =
    match.by === 'email' ? record.Email : match.by === 'phone' ? record.Phone : record[match.field];
  // SOQL compares text case-insensitively; so do we, to pair answers with events.
  return typeof value === 'string' && value.toLowerCase() === match.value.toLowerCase();
}

/** One entry per record; a Contact reached through a converted Lead keeps that note. */
export function dedupe(candidates: Found[]): Found[] {
  const byId = new Map<string, Found>();
  for (const candidate of candidates) {
    const key = candidate.id.slice(0, 15);
    const earlier = byId.get(key);
    byId.set(key, {
      ...candidate,
      convertedFrom: earlier?.convertedFrom ?? candidate.convertedFrom,
      email: earlier?.email ?? candidate.email,
    });
  }
  return [...byId.values()];
}

export function sameId(a: string, b: string): boolean {
  return a.slice(0, 15) === b.slice(0, 15);
}

export function describeMatch(match: MatchKey): string {
  if (match.by === 'external_id') return `${match.field} = ${match.value}`;
  return match.by === 'email' ? `the email ${match.value}` : `the phone number ${match.value}`;
}

export function ambiguous(match: MatchKey, found: Found[]): PermanentError {
  const list = found
    .map((f) => `${f.object} ${f.id}${f.convertedFrom ? ` (converted from Lead ${f.convertedFrom})` : ''}`)
    .join(', ');
  return new PermanentError(
    `ambiguous match: ${found.length} Salesforce records have ${describeMatch(match)}: ${list}. leadrelay does not guess: merge the duplicates in Salesforce, then retry this delivery`,
  );
}

export function ambiguousUrls(object: string, field: string, value: string, data: unknown): PermanentError {
  const ids = (Array.isArray(data) ? data : []).map((url) => String(url).split('/').pop());
  return new PermanentError(
    `ambiguous match: ${ids.length} Salesforce ${object} records have ${field} = ${value}: ${ids.join(', ')}. leadrelay does not guess: merge the duplicates in Salesforce, then retry this delivery`,
    { statusCode: 300 },
  );
}

export function ambiguousExternalId(match: MatchKey, errors: SalesforceError[]): PermanentError {
  return new PermanentError(
    `ambiguous match: several Salesforce records have ${describeMatch(match)} (${errors.map((e) => e.message).join('; ')}). leadrelay does not guess: merge the duplicates in Salesforce, then retry this delivery`,
  );
}
