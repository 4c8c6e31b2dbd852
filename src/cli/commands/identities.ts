import { identifiersFor, showIdentities } from '../../identity/show-identities.ts';
import { formatTime } from '../table.ts';
import { UsageError } from '../usage-error.ts';
import { openExistingStore } from './outbox-commands.ts';

/**
 * `leadrelay identities show EMAIL|PHONE|CONVERSATION`: the records a person
 * maps to in each connector, and every identifier that leads there — so an
 * operator can see why an event went to a record, or that one person is two.
 */
export async function identitiesShow(
  configFile: string,
  text: string,
  options: { json?: boolean | undefined; region?: string | undefined },
  print: (text: string) => void,
): Promise<number> {
  const store = await openExistingStore(configFile);
  try {
    const identifiers = await identifiersFor(store.db, text, options.region ?? 'US');
    if (identifiers.length === 0)
      throw new UsageError(
        `"${text}" is not an email, a phone that can be read (add +country code or --region), or a known conversation id`,
      );
    const views = await showIdentities(store.db, identifiers);
    if (options.json) {
      print(JSON.stringify(views, null, 2));
      return 0;
    }
    if (views.length === 0) {
      print(`No connector has resolved ${identifiers.join(', ')} to a record yet.`);
      return 0;
    }
    const lines: string[] = [];
    for (const view of views) {
      lines.push(`${view.connector} → ${view.record}`);
      for (const entry of view.identifiers)
        lines.push(`  ${entry.identifier}  (last by ${entry.eventId}, ${formatTime(entry.updatedAt)})`);
    }
    print(lines.join('\n'));
    return 0;
  } finally {
    await store.close();
  }
}
