import type { Connector } from '../../connectors/types.ts';
import type { Logger } from '../util/logger.ts';
import type { ConfigHolder } from './config-holder.ts';

/**
 * Closes the connectors a reload replaced once no delivery uses them any
 * more (`settled`), releasing their clients and shared state (e.g. a Slack
 * workspace's pacing). Returns a function that stops retiring.
 *
 * @example
 * const stop = retireReplacedConnectors(config, () => worker.settled(), logger);
 */
export function retireReplacedConnectors(
  config: ConfigHolder,
  settled: () => Promise<void>,
  logger: Logger,
): () => void {
  return config.onReplace((previous, next) => {
    const kept = new Set(next.connectors.values());
    const replaced = [...previous.connectors.values()].filter((connector) => !kept.has(connector));
    void settled().then(() => closeConnectors(replaced, logger));
  });
}

/**
 * Closes each connector, logging (not throwing) a failure, so one stuck
 * client does not keep the others open.
 *
 * @example
 * await closeConnectors([...config.current.connectors.values()], logger);
 */
export async function closeConnectors(connectors: readonly Connector[], logger: Logger): Promise<void> {
  for (const connector of connectors) {
    try {
      await connector.close?.();
    } catch (error) {
      logger.warn({ err: error, connector: connector.name }, 'connector did not close cleanly');
    }
  }
}
