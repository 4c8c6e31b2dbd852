import { createHash } from 'node:crypto';
import type { WebClient } from '@slack/web-api';
import { ChannelPacer } from './pacer.ts';

/**
 * What the connectors of one Slack workspace share: the per-channel pacing
 * (Slack's one message per second per channel counts all our messages to a
 * channel, whichever connector sent them), channel ids learnt from answers,
 * and the workspace URL for permalinks.
 *
 * It lives as long as a connector holds it: a reload builds new connectors
 * while the old ones finish their deliveries, and both hold the same
 * workspace, so pacing carries over; when the last holder is closed (the
 * old connectors after their deliveries, everything at shutdown) it is
 * forgotten, token and all.
 */
export class Workspace {
  readonly pacer = new ChannelPacer();
  /** `#name` (or a user id, for a DM) → channel id. */
  private readonly channelIds = new Map<string, string>();
  /** From auth.test (`https://acme.slack.com/`), asked once. */
  private url: Promise<string | undefined> | undefined;
  holders = 0;

  /** The pacing lane of a channel: its id when known, so both spellings share one. */
  laneOf(channel: string): string {
    return this.channelIds.get(channel) ?? channel;
  }

  /** Slack answered a post to `#name` (or to a user id, for a DM) with the channel's id. */
  learnChannelId(channel: string, id: string): void {
    if (id === channel || this.channelIds.get(channel) === id) return;
    this.channelIds.set(channel, id);
    this.pacer.alias(channel, id);
  }

  /** The channel's id when it is one or was learnt from an answer; undefined for a `#name` not seen yet. */
  idOf(channel: string): string | undefined {
    return this.channelIds.get(channel) ?? (channel.startsWith('#') ? undefined : channel);
  }

  /** The workspace URL for permalinks; asked once, asked again after a failure. */
  workspaceUrl(client: WebClient): Promise<string | undefined> {
    this.url ??= client.auth
      .test()
      .then((answer) => (typeof answer.url === 'string' ? answer.url : undefined))
      .catch(() => {
        this.url = undefined;
        return undefined;
      });
    return this.url;
  }

  /** The id of `#name`: from an earlier answer, or by listing the channels the bot can see. */
  async channelId(client: WebClient, channel: string): Promise<string | undefined> {
    const known = this.idOf(channel);
    if (known) return known;
    const name = channel.slice(1);
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const answer = (await client.apiCall('conversations.list', {
        types: 'public_channel,private_channel',
        exclude_archived: true,
        limit: 1000,
        ...(cursor ? { cursor } : {}),
      })) as { channels?: { id?: string; name?: string }[]; response_metadata?: { next_cursor?: string } };
      const match = answer.channels?.find((c) => c.name === name);
      if (match?.id) {
        // Learnt like an answer's id, so that alerts planned by either spelling share one pacing lane.
        this.learnChannelId(channel, match.id);
        return match.id;
      }
      cursor = answer.response_metadata?.next_cursor;
      if (!cursor) return undefined;
    }
    return undefined;
  }
}

const workspaces = new Map<string, Workspace>();

/** The workspace of this API URL and token, held until `release` is called. */
export function holdWorkspace(baseUrl: string, token: string): { workspace: Workspace; release(): void } {
  const key = createHash('sha256').update(`${baseUrl}\n${token}`).digest('hex');
  let workspace = workspaces.get(key);
  if (!workspace) {
    workspace = new Workspace();
    workspaces.set(key, workspace);
  }
  workspace.holders++;
  const held = workspace;
  let released = false;
  return {
    workspace: held,
    release() {
      if (released) return;
      released = true;
      held.holders--;
      if (held.holders === 0 && workspaces.get(key) === held) workspaces.delete(key);
    },
  };
}

/** How many workspaces are held right now (for tests and diagnostics). */
export function heldWorkspaces(): number {
  return workspaces.size;
}
