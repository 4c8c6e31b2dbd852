import type { DeliveryStatus } from '../../db/tables.ts';
import type { EventCursor } from '../../outbox/list-events.ts';

/** A query parameter or form field that does not parse; answered 400. */
export class BadParameter extends Error {}

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'leased', 'delivered', 'dead'];

/** The first value of a query parameter, undefined when absent or empty. */
export function one(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

export function parseStatus(value: string | undefined): DeliveryStatus | undefined {
  if (value === undefined) return undefined;
  if (!DELIVERY_STATUSES.includes(value as DeliveryStatus))
    throw new BadParameter(`status must be one of ${DELIVERY_STATUSES.join(', ')}`);
  return value as DeliveryStatus;
}

export function parseLimit(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max)
    throw new BadParameter(`limit must be a whole number from 1 to ${max}`);
  return Number(value);
}

/** A time as Unix milliseconds or an ISO 8601 date/time. */
export function parseTime(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new BadParameter(`${name} must be an ISO 8601 time or Unix milliseconds`);
  return ms;
}

export function parseDeliveryId(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new BadParameter(`"${value}" is not a delivery id`);
  return Number(value);
}

export function encodeCursor(cursor: EventCursor): string {
  return `${cursor.receivedAt}.${cursor.id}`;
}

export function parseCursor(value: string | undefined): EventCursor | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{1,15})\.(\S{1,200})$/.exec(value);
  if (!match) throw new BadParameter('cursor is not one this API returned (use `next` as given)');
  return { receivedAt: Number(match[1]), id: match[2]! };
}
