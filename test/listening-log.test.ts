import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/util/logger.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService } from './helpers/harness.ts';

const cleanups = cleanupsAfter('each');

async function listeningLine(host: string): Promise<{ line: Record<string, unknown>; port: number }> {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'info',
    destination: { write: (text: string) => void lines.push(JSON.parse(text)) },
  });
  const service = await startTestService(
    { server: { host }, sources: { site: { verify: { secrets: [newSecret()] } } } },
    { logger },
  );
  cleanups.push(() => service.close());
  const line = lines.find((entry) => entry.msg === 'listening');
  if (!line) throw new Error(`no "listening" line in ${JSON.stringify(lines)}`);
  return { line, port: service.port };
}

describe('the "listening" log line', () => {
  it('names the address the socket is bound to, and a URL for tools on this host', async () => {
    const { line, port } = await listeningLine('127.0.0.1');
    expect(line).toMatchObject({ address: '127.0.0.1', port, url: `http://127.0.0.1:${port}` });
    expect(line).not.toHaveProperty('interfaces');
  });

  it('gives the resolved address for a host name, not the name', async () => {
    const { line, port } = await listeningLine('localhost');
    expect(['127.0.0.1', '::1']).toContain(line.address);
    expect(line).toMatchObject({ port, url: `http://localhost:${port}` });
  });
});
