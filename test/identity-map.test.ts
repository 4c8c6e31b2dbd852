import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.ts';
import { identifiersOf } from '../src/identity/identifiers.ts';
import { lookupIdentities } from '../src/identity/lookup-identities.ts';
import { choosePerson } from '../src/identity/person-key.ts';
import { recordIdentities, replaceRecord } from '../src/identity/record-identities.ts';
import { showIdentities } from '../src/identity/show-identities.ts';
import { describeEachDialect, openDialectStore } from './helpers/harness.ts';

describe('the identifiers an event gives of a person', () => {
  it('conversation and visitor ids are scoped by source; email lower-cased; phone only as E.164', () => {
    expect(
      identifiersOf('website-bot', {
        conversation: { id: 'conv_same_visitor' },
        contact: { id: 4711, email: ' Dana@Acme.example ', phone: '+1 415 555 0142' },
      }),
    ).toEqual([
      'conversation:website-bot:conv_same_visitor',
      'visitor:website-bot:4711',
      'email:dana@acme.example',
      'phone:+14155550142',
    ]);
  });

  it('a phone that cannot be read as an international number is no identifier (it would match the wrong person)', () => {
    expect(identifiersOf('bot', { contact: { phone: '123' } })).toEqual([]);
  });
});

describe('the person an event belongs to, for ordering', () => {
  const people = new Map([
    ['conversation:bot:c1', 'conversation:bot:c1'],
    ['phone:+14155550100', 'conversation:bot:c1'],
  ]);
  const known = (identifier: string) => people.get(identifier);

  it('the email that follows a phone in one conversation is the same person, and links the email', () => {
    expect(choosePerson(['conversation:bot:c1', 'email:dana@acme.example'], known)).toEqual({
      person: 'conversation:bot:c1',
      link: ['email:dana@acme.example'],
    });
  });

  it('a phone alone finds the person; with an email of its own it does not (an office number is shared)', () => {
    expect(choosePerson(['conversation:bot:c9', 'phone:+14155550100'], known)?.person).toBe(
      'conversation:bot:c1',
    );
    expect(
      choosePerson(['conversation:bot:c9', 'email:lee@acme.example', 'phone:+14155550100'], known),
    ).toEqual({ person: 'conversation:bot:c9', link: ['conversation:bot:c9', 'email:lee@acme.example'] });
  });
});

describeEachDialect('the identity map', (dialect) => {
  let store: Database;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ store, cleanup } = await openDialectStore(dialect));
  });
  afterEach(() => cleanup());

  it('records what a delivery resolved and answers for any of those identifiers, per connector', async () => {
    const phoneFirst = ['conversation:bot:c1', 'phone:+14155550142'];
    await recordIdentities(
      store.db,
      { connector: 'hubspot', identifiers: phoneFirst, record: 'contact:101', eventId: 'ev_1' },
      1,
    );
    // The same conversation, now with an email: looked up by everything it carries.
    const later = ['conversation:bot:c1', 'email:dana@acme.example'];
    expect(await lookupIdentities(store.db, 'hubspot', later)).toEqual({
      'conversation:bot:c1': 'contact:101',
    });
    expect(await lookupIdentities(store.db, 'salesforce', later)).toEqual({});
    await recordIdentities(
      store.db,
      { connector: 'hubspot', identifiers: later, record: 'contact:101', eventId: 'ev_2' },
      2,
    );
    expect(await showIdentities(store.db, ['email:dana@acme.example'])).toEqual([
      {
        connector: 'hubspot',
        record: 'contact:101',
        identifiers: [
          { identifier: 'conversation:bot:c1', eventId: 'ev_2', updatedAt: 2 },
          { identifier: 'email:dana@acme.example', eventId: 'ev_2', updatedAt: 2 },
          { identifier: 'phone:+14155550142', eventId: 'ev_1', updatedAt: 1 },
        ],
      },
    ]);
  });

  it('the newest answer wins, and a record that is gone moves to its survivor or is forgotten', async () => {
    const ids = ['email:a@x.example', 'phone:+14155550100'];
    await recordIdentities(
      store.db,
      { connector: 'hubspot', identifiers: ids, record: 'contact:1', eventId: 'ev_1' },
      1,
    );
    await recordIdentities(
      store.db,
      { connector: 'hubspot', identifiers: ['email:a@x.example'], record: 'contact:2', eventId: 'ev_2' },
      2,
    );
    expect(await lookupIdentities(store.db, 'hubspot', ids)).toEqual({
      'email:a@x.example': 'contact:2',
      'phone:+14155550100': 'contact:1',
    });
    await replaceRecord(store.db, 'hubspot', 'contact:1', 'contact:2', 3);
    expect(await lookupIdentities(store.db, 'hubspot', ids)).toEqual({
      'email:a@x.example': 'contact:2',
      'phone:+14155550100': 'contact:2',
    });
    await replaceRecord(store.db, 'hubspot', 'contact:2', undefined, 4);
    expect(await lookupIdentities(store.db, 'hubspot', ids)).toEqual({});
  });
});
