import { setTimeout as sleep } from 'node:timers/promises';

/** Thrown instead of waiting when a channel is blocked for longer than the caller will wait. */
export class ChannelBusy extends Error {
  override name = 'ChannelBusy';
  constructor(readonly waitMs: number) {
    super(`channel is paused for another ${Math.ceil(waitMs / 1000)} s`);
  }
}

interface Lane {
  /** Settles when the message before the last one queued has been answered. */
  tail: Promise<void>;
  /** When the next message may be sent (monotonic ms). */
  freeAt: number;
}

/**
 * Slack allows about one message per second per channel. A pacer sends the
 * messages of one channel one after another, each at least `intervalMs`
 * after the previous one was *answered* (the answer time is later than
 * Slack's receive time, so the gap Slack sees is never shorter), and holds a
 * channel back for as long as a 429's Retry-After said. Channels do not wait
 * for each other.
 *
 * Real time (a monotonic clock), not the engine's injectable clock: this is
 * about the gap Slack measures.
 */
export class ChannelPacer {
  private readonly lanes = new Map<string, Lane>();

  /**
   * Runs `send` for `channel` when its turn comes; the next message to the
   * channel waits `intervalMs` after this one is answered. Throws
   * {@link ChannelBusy} (without sending) when the channel is paused for more
   * than `maxWaitMs`.
   */
  async run<T>(
    channel: string,
    timing: { intervalMs: number; maxWaitMs: number },
    send: () => Promise<T>,
  ): Promise<T> {
    const lane = this.lane(channel);
    const previous = lane.tail;
    let release!: () => void;
    lane.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      await previous;
      const wait = lane.freeAt - performance.now();
      if (wait > timing.maxWaitMs) throw new ChannelBusy(wait);
      if (wait > 0) await sleep(wait);
      try {
        return await send();
      } finally {
        lane.freeAt = Math.max(lane.freeAt, performance.now() + timing.intervalMs);
      }
    } finally {
      release();
    }
  }

  /** Makes `alias` (a channel id) share the lane of `channel` (its name), unless it has one already. */
  alias(channel: string, alias: string): void {
    if (!this.lanes.has(alias)) this.lanes.set(alias, this.lane(channel));
  }

  /** Holds `channel` back for `ms` (a 429's Retry-After). */
  pause(channel: string, ms: number): void {
    const lane = this.lane(channel);
    lane.freeAt = Math.max(lane.freeAt, performance.now() + ms);
  }

  private lane(channel: string): Lane {
    let lane = this.lanes.get(channel);
    if (!lane) {
      lane = { tail: Promise.resolve(), freeAt: 0 };
      this.lanes.set(channel, lane);
    }
    return lane;
  }
}
