import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/config-error.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { compileRoute, routeEvent } from '../src/ingest/router.ts';
import { runCli } from './helpers/cli.ts';
import { tempDir } from './helpers/temp-dir.ts';

const dir = tempDir();
afterAll(dir.cleanup);
mkdirSync(join(dir.path, 'connectors'));
writeFileSync(join(dir.path, 'connectors', 'crm.yaml'), 'type: webhook\nurl: http://127.0.0.1:9/\n');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SOURCES = `sources:\n  bot:\n    verify: { secrets: ["${SECRET}"] }\n`;

/** The configuration with one route whose condition is `when`, as the YAML an admin writes. */
function withCondition(when: string): string {
  return `${SOURCES}routes:\n  - on: "*"\n    when: ${JSON.stringify(when)}\n    to: [crm]\n`;
}

async function problems(yaml: string): Promise<string[]> {
  const file = join(dir.path, 'leadrelay.yaml');
  writeFileSync(file, yaml);
  try {
    await loadConfig(file, { env: {} });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => `${p.line}:${p.col}: ${p.path}: ${p.message}`);
  }
  return [];
}

describe('a route condition that would misroute is refused with file:line:col', () => {
  // Every one of these compiled before and routed: the first two matched every
  // event, the others matched none, all without a word from `check`.
  it.each([
    [
      "escalation.reason == 'x' andd 1 == 1",
      'expected "and", "or" or the end of the condition after "\'x\'", found "andd"; did you mean "and"? (column 26 of the condition)',
    ],
    [
      "escalation.reason == 'x' orr 1 == 2",
      'expected "and", "or" or the end of the condition after "\'x\'", found "orr"; did you mean "or"? (column 26 of the condition)',
    ],
    ['lead.score >>= 3', 'expected a field or a value after ">", found ">=" (column 13 of the condition)'],
    [
      "escalation.priorty == 'high'",
      'no field "escalation.priorty" in the canonical event; did you mean "escalation.priority"? (column 1 of the condition)',
    ],
    [
      'lead.score >= 70 and',
      'the condition ends after "and"; a comparison must follow (column 21 of the condition)',
    ],
    [
      'lead.score >=',
      'expected a field or a value after ">=", found the end of the condition (column 14 of the condition)',
    ],
    [
      'lead.score >= 70 lead.score < 90',
      'expected "and", "or" or the end of the condition after "70", found "lead.score" (column 18 of the condition)',
    ],
    ['lead.score = 70', 'unexpected "=": compare with `==` (column 12 of the condition)'],
    [
      'lead.score >= 70 && feedback.rating < 3',
      'unexpected "&": write `and` / `or` (column 18 of the condition)',
    ],
    [
      '(lead.score >= 70)',
      'unexpected "(": conditions have no parentheses (and/or are read right to left) (column 1 of the condition)',
    ],
    ["contact.email contains 'x", "the text starting with ' is never closed (column 24 of the condition)"],
    [
      "contact.emial contains '@'",
      'no field "contact.emial" in the canonical event; did you mean "contact.email"? (column 1 of the condition)',
    ],
    [
      "lead.scroe >= 1 or metadata.plan == 'pro'",
      'no field "lead.scroe" in the canonical event; did you mean "lead.score"? (column 1 of the condition)',
    ],
    [
      "lead.budjet == '10-25k'",
      'no field "lead.budjet" in the canonical event; did you mean "lead.budget"? (column 1 of the condition)',
    ],
    ['lead.score.value > 1', '"lead.score" is a single value; it has no "value" (column 1 of the condition)'],
  ])('%j', async (when, message) => {
    expect(await problems(withCondition(when))).toEqual([
      `6:11: routes[0].when: invalid condition: ${message}`,
    ]);
  });

  it('an empty condition', async () => {
    expect(await problems(withCondition(''))).toEqual([
      '6:11: routes[0].when: the condition is empty (leave out when: to take every event)',
    ]);
  });

  it('leadrelay check prints the same line with the file name and exits 1', async () => {
    const file = join(dir.path, 'checked.yaml');
    writeFileSync(file, withCondition("escalation.reason == 'x' andd 1 == 1"));
    const result = await runCli(['check', '--config', file]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `${file}:6:11: routes[0].when: invalid condition: expected "and", "or" or the end of the condition after "'x'", found "andd"; did you mean "and"? (column 26 of the condition)`,
    );
  });

  it('a source mapping condition with a misspelled root is refused too', async () => {
    const yaml = `sources:\n  bot:\n    format: mapped\n    verify: { secrets: ["${SECRET}"] }\n    map:\n      type:\n        - when: "paylod.kind == 'lead'"\n          value: lead.qualified\n`;
    expect(await problems(yaml)).toEqual([
      '7:17: sources.bot.map.type[0].when: invalid condition: "paylod" is not available here; did you mean "payload"? (column 1 of the condition)',
    ]);
  });
});

describe('conditions that are right keep working and route as written', () => {
  const event = {
    type: 'conversation.escalated',
    contact: { email: 'dana@example.com', attributes: { tier: 'gold' } },
    lead: { score: 75 },
    escalation: { priority: 'high', reason: 'pricing' },
    conversation: { messages: [{ role: 'user', text: 'hi' }] },
    metadata: { plan: 'pro' },
  };
  it.each([
    ["escalation.priority == 'high'", true],
    ['lead.score >= 70 and lead.score < 80', true],
    ["lead.score > 90 or escalation.reason == 'pricing'", true],
    ["contact.email contains '@example.com'", true],
    ["metadata.plan == 'pro' and contact.attributes.tier == 'gold'", true],
    ['conversation.messages.size > 0', true],
    // lead holds whatever the bot asked: a field of its own is no typo.
    ["lead.industry == 'saas'", false],
    ["lead.answers.seats == '50'", false],
    ["conversation.messages[0].role == 'user'", true],
    ['feedback.rating <= 2', false],
    ['not lead.score', false],
    ['contact.phone == blank', true],
    ['escalation.summary != empty or lead.score <> 75', false],
    // Liquid reads and/or right to left: this is `false and (true or true)`.
    ["lead.score > 90 and escalation.priority == 'high' or 1 == 1", false],
  ])('%s → %s', (when, expected) => {
    // Through compileRoute, so each also passes the check of the fields it reads.
    const route = compileRoute({ on: '*', when, to: ['crm'] });
    expect(routeEvent([route], 'bot', event)).toEqual(expected ? ['crm'] : []);
  });

  it('a field a source mapping writes may be used in a route condition', async () => {
    const yaml = `sources:\n  bot:\n    format: mapped\n    verify: { secrets: ["${SECRET}"] }\n    map:\n      type: [{ value: lead.qualified }]\n      fields:\n        lead.stage: "{{ payload.stage }}"\nroutes:\n  - on: "*"\n    when: "lead.stage == 'sql'"\n    to: [crm]\n`;
    const file = join(dir.path, 'mapped.yaml');
    writeFileSync(file, yaml);
    const config = await loadConfig(file, { env: {} });
    expect(
      routeEvent(config.routes, 'bot', { type: 'lead.qualified', lead: { stage: 'sql' } } as never),
    ).toEqual(['crm']);
    expect(
      routeEvent(config.routes, 'bot', { type: 'lead.qualified', lead: { stage: 'mql' } } as never),
    ).toEqual([]);
  });
});
