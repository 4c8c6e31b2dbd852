import type { WebClient } from '@slack/web-api';
import type { ConnectorEnvironment, DeliveryContext } from '../types.ts';
import type { buildDigest, MessageContent } from './blocks.ts';
import type { SlackSettings } from './settings.ts';
import type { Workspace } from './workspace.ts';

/** What the parts of one Slack connector share: built once by `create`, read by each step. */
export interface SlackScope {
  name: string;
  settings: SlackSettings;
  /** The SDK client, loaded on the first call (commands that never deliver start without it). */
  client(): Promise<WebClient>;
  workspace: Workspace;
  environment: ConnectorEnvironment;
  /** The alert for one event, with its buttons. Throws when a custom template fails. */
  alertContent(context: DeliveryContext): MessageContent;
  digestLine: Parameters<typeof buildDigest>[0];
  /** Said once per connector that history could not be read before a re-post. */
  warnedHistory: boolean;
  /** Said once per connector that a channel's id, needed to find its threads, could not be looked up. */
  warnedThreads: boolean;
}

/**
 * `metadata.event_type` of our messages; `event_payload.event_ids` names the
 * leadrelay events a message covers, and `event_payload.digest` is true on a digest.
 */
export const METADATA_TYPE = 'leadrelay_alert';
