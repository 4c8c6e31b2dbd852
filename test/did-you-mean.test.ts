import { describe, expect, it } from 'vitest';
import { didYouMean } from '../src/util/did-you-mean.ts';

describe('didYouMean', () => {
  it.each([
    ['portt', ['port', 'host'], 'port'],
    ['prot', ['port', 'host'], 'port'],
    ['hubspt', ['hubspot', 'salesforce'], 'hubspot'],
    ['Slack-Sales', ['slack-sales', 'slack-support'], 'slack-sales'],
    ['zzz', ['port', 'host'], undefined],
    ['body', ['body_limit'], undefined],
  ])('%s among %j → %s', (word, candidates, expected) => {
    expect(didYouMean(word, candidates)).toBe(expected);
  });
});
