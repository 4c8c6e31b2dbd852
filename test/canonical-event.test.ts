import { describe, expect, it } from 'vitest';
import { validateCanonicalEvent } from '../src/event/canonical-event.ts';

const lead = (email: string) => ({ id: 'evt_1', type: 'lead.qualified', contact: { email } });

describe('canonical event emails', () => {
  it.each(['dana@acme.example', 'zoë@例え.jp', "o'brien+chat@acme.co.uk"])('accepts %j', (email) => {
    expect(validateCanonicalEvent(lead(email)).ok).toBe(true);
  });

  it.each([
    ['a NUL byte', 'a\u0000@b.example'],
    ['a right-to-left override', 'dana@acme.example\u202e'],
    ['a zero-width space', '\u200b@a.example'],
    ['angle brackets', '<dana@acme.example>'],
    ['no @', 'dana.acme.example'],
    ['spaces', 'dana @acme.example'],
  ])('refuses an address with %s, naming the field', (_label, email) => {
    const result = validateCanonicalEvent(lead(email));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.map((e) => e.path)).toContain('contact.email');
  });
});
