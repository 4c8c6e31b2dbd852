/** A link to a record a delivery created or updated (connectors/types.ts, RecordLink). */
export interface RecordLink {
  label: string;
  url: string;
}

/**
 * The URL as a link target when it is an absolute http(s) URL, else
 * undefined. Links come from event data and from connectors' results (a
 * third-party connector, a CRM echoing input): `javascript:`, `data:` and
 * anything relative never become an href.
 *
 * @example
 * httpUrl('https://app.hubspot.com/contacts/1/record/0-1/101') // 'https://app.hubspot.com/contacts/1/record/0-1/101'
 * httpUrl('javascript:alert(1)')                               // undefined
 */
export function httpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 4096) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
}

/**
 * The record links of a delivery's result (by convention `links: [{label,
 * url}]`, else a lone `url`), keeping only http(s) ones.
 *
 * @example
 * recordLinks({ links: [{ label: 'Open in Salesforce', url: 'https://acme.my.salesforce.com/lightning/r/Lead/00Q1/view' }] })
 * // → [{ label: 'Open in Salesforce', url: 'https://acme.my.salesforce.com/lightning/r/Lead/00Q1/view' }]
 */
export function recordLinks(result: Record<string, unknown> | null): RecordLink[] {
  if (!result) return [];
  const links: RecordLink[] = [];
  const listed = Array.isArray(result.links) ? result.links.slice(0, 20) : [];
  for (const link of listed) {
    if (link === null || typeof link !== 'object') continue;
    const url = httpUrl((link as { url?: unknown }).url);
    const label = (link as { label?: unknown }).label;
    if (url)
      links.push({ label: typeof label === 'string' && label.trim() ? label.slice(0, 200) : url, url });
  }
  const lone = httpUrl(result.url);
  if (links.length === 0 && lone) links.push({ label: 'Open the record', url: lone });
  return links;
}
