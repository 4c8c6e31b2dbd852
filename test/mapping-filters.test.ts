import { describe, expect, it } from 'vitest';
import { transcript } from '../src/mapping/filters/transcript.ts';
import { compileTemplate } from '../src/mapping/template.ts';

const event = {
  id: 'evt_1',
  type: 'lead.qualified',
  occurred_at: '2026-11-25T10:04:00Z',
  contact: {
    email: 'Dana.Reyes@ACME.example',
    phone: '(415) 555-0100',
    name: '  Dana Maria Reyes ',
    company: 'Acme Corp',
    attributes: { employees: '50-200' },
  },
  conversation: {
    id: 'conv_8842',
    channel: 'web',
    url: 'https://chat.example/c/8842',
    messages: [
      { role: 'bot', text: 'Hi! What brings you here?', at: '2026-11-25T10:01:00Z' },
      {
        role: 'user',
        text: 'We need <b>intake</b> automation & "fast".',
        at: '2026-11-25T10:01:20Z',
        author: 'Dana',
      },
      { role: 'agent', text: 'Happy to help.\nWhat volume?', at: '2026-11-25T10:02:05Z', author: 'Sam' },
      { role: 'user', text: 'About 400 forms a day *per* clinic_', at: '2026-11-25T10:03:00Z' },
    ],
  },
  lead: { score: 82 },
};

const render = (source: string, context: object = event) => compileTemplate(source).render(context);

describe('template filters', () => {
  it.each([
    ['{{ contact.email | lower }}', 'dana.reyes@acme.example'],
    ['{{ contact.company | upper }}', 'ACME CORP'],
    ['[{{ contact.name | trim }}]', '[Dana Maria Reyes]'],
    ['{{ conversation.messages[0].text | truncate: 10 }}', 'Hi! Wha...'],
    ['{{ contact.job_title | default: "Unknown" }}', 'Unknown'],
    ['{{ contact.phone | e164 }}', '+14155550100'],
    ['{{ "020 7946 0958" | e164: "GB" }}', '+442079460958'],
    ['{{ "+49 30 901820" | e164 }}', '+4930901820'],
    ['{{ contact.name | first_name }}', 'Dana'],
    ['{{ contact.name | last_name }}', 'Maria Reyes'],
    ['{{ "Reyes, Dana" | first_name }} {{ "Reyes, Dana" | last_name }}', 'Dana Reyes'],
    // A name as visitors type it: the emoji is decoration, not a last name.
    ['[{{ "Ano 🛼" | first_name }}|{{ "Ano 🛼" | last_name }}]', '[Ano|]'],
    ['[{{ "🌟 Li Wei 🌟" | first_name }}|{{ "🌟 Li Wei 🌟" | last_name }}]', '[Li|Wei]'],
    ['{{ occurred_at | date: "%Y-%m-%d %H:%M", "UTC" }}', '2026-11-25 10:04'],
    ['{{ contact.attributes.employees }}', '50-200'],
    ['Chatbot: {{ conversation.channel }}', 'Chatbot: web'],
    ['Score {{ lead.score | plus: 1 }}', 'Score 83'],
    ['a literal', 'a literal'],
  ])('%s → %s', (source, expected) => {
    expect(render(source)).toBe(expected);
  });

  it('yields undefined (omit the field) when a template renders empty', () => {
    expect(render('{{ contact.job_title }}')).toBeUndefined();
    expect(render('  {{ contact.missing | trim }}  ')).toBeUndefined();
    expect(render('{{ "not a phone" | e164 }}')).toBeUndefined();
    expect(render('')).toBeUndefined();
  });

  it('finds unknown filters and syntax errors when compiled, with a suggestion', () => {
    expect(() => compileTemplate('{{ contact.email | lowr }}')).toThrow(
      'unknown filter "lowr"; did you mean "lower"?',
    );
    expect(() => compileTemplate('{{ contact.name | first_nme }}')).toThrow('did you mean "first_name"?');
    expect(() => compileTemplate('{{ contact.email ')).toThrow(/not closed/);
    expect(() => compileTemplate('{{ conversation | transcript: "htm" }}')).toThrow('did you mean "html"?');
  });
});

describe('template sandbox', () => {
  it('gives no access to prototypes or constructors', () => {
    expect(render('{{ contact.constructor }}')).toBeUndefined();
    expect(render('{{ contact.__proto__ }}')).toBeUndefined();
    expect(render('{{ contact.email.constructor.name }}')).toBeUndefined();
    expect(render('{{ contact.toString }}')).toBeUndefined();
  });

  it('cannot read files through include or render', () => {
    expect(() => render('{% include "/etc/passwd" %}')).toThrow();
    expect(() => render('{% render "../package.json" %}')).toThrow();
  });

  it('refuses include, render and layout when compiled (what `leadrelay check` runs), not first at delivery', () => {
    for (const tag of ['{% include "note" %}', '{%- render "x" -%}', '{% layout "base" %}'])
      expect(() => compileTemplate(`Hello {{ contact.name }} ${tag}`)).toThrow(
        /tag is not available: a template cannot read other files/,
      );
  });

  it('stops a template that would loop for long (one render is bounded in time)', () => {
    const started = performance.now();
    const nested = '{% for i in (1..100000) %}{% for j in (1..100000) %}{% endfor %}{% endfor %}';
    expect(() => render(nested)).toThrow(/template render limit exceeded/);
    // Bounded at 1 s of wall-clock time; generous here for a loaded machine.
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it('does not execute event content as a template', () => {
    const hostile = { contact: { name: '{{ 7 | times: 6 }}{% include "/etc/passwd" %}' } };
    expect(render('{{ contact.name }}', hostile)).toBe('{{ 7 | times: 6 }}{% include "/etc/passwd" %}');
  });
});

describe('transcript', () => {
  it.each(['text', 'markdown', 'html'] as const)('renders %s, newest last (golden file)', async (format) => {
    await expect(render(`{{ conversation | transcript: "${format}" }}`)).toMatchFileSnapshot(
      `golden/transcript.${format}.txt`,
    );
  });

  it('escapes user text in HTML', () => {
    const html = transcript([{ role: 'user', text: '<script>alert("x")</script> & more' }], 'html');
    expect(html).toBe(
      '<p><strong>Visitor</strong><br>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more</p>',
    );
  });

  it('cuts whole messages, oldest first, and says how many were left out', () => {
    const full = transcript(event.conversation, 'text');
    const limited = transcript(event.conversation, 'text', 120);
    expect(full.length).toBeGreaterThan(120);
    expect(limited.length).toBeLessThanOrEqual(120);
    expect(limited.split('\n')[0]).toMatch(/^\[\d earlier messages? not shown\]$/);
    const kept = limited.split('\n').slice(1);
    // Every kept line is a whole line of the full transcript, and the newest is last.
    for (const line of kept) expect(full.split('\n')).toContain(line);
    expect(kept.at(-1)).toBe(full.split('\n').at(-1));
  });

  it.each(['text', 'markdown', 'html'] as const)(
    'cuts the newest message with an ellipsis when it alone is too long (%s), never drops it',
    (format) => {
      const long = `Start of what I said <&> ${'word '.repeat(2000)}`;
      const cut = transcript(
        [
          { role: 'bot', text: 'Hi' },
          { role: 'user', text: long },
        ],
        format,
        800,
      );
      expect(cut.length).toBeLessThanOrEqual(800);
      expect(cut.length).toBeGreaterThan(700);
      expect(cut).toContain('1 earlier message not shown');
      expect(cut).toMatch(/Start of what I said/);
      expect(cut).toMatch(/ wo?r?d?…(<\/p>)?$/);
      // One emoji is never split in half.
      const emoji = transcript([{ role: 'user', text: '🛼'.repeat(500) }], 'text', 101);
      expect(emoji.endsWith('🛼…')).toBe(true);
    },
  );

  it('accepts the limit from a template and the messages array itself', () => {
    const limited = render('{{ conversation.messages | transcript: "markdown", 90 }}')!;
    expect(limited.length).toBeLessThanOrEqual(90);
    expect(limited.startsWith('_[')).toBe(true);
  });

  it('renders nothing for a conversation without messages', () => {
    expect(render('{{ conversation | transcript }}', { conversation: { id: 'x' } })).toBeUndefined();
  });
});
