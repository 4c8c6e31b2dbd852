/**
 * The slice of SOQL the Salesforce sandbox understands: enough for what
 * integrations send (SELECT fields FROM object WHERE conditions with = != IN
 * LIKE, AND/OR/NOT and parentheses, LIMIT), with Salesforce's rules: string
 * escapes, case-insensitive text comparison, no AND/OR mixing without
 * parentheses, long text areas not filterable.
 */

export class SoqlError extends Error {
  constructor(
    readonly errorCode: 'MALFORMED_QUERY' | 'INVALID_FIELD' | 'INVALID_TYPE',
    message: string,
  ) {
    super(message);
  }
}

export type SoqlValue = string | number | boolean | null;

export type Condition =
  | { kind: 'compare'; field: string; op: '=' | '!='; value: SoqlValue }
  | { kind: 'in'; field: string; negate: boolean; values: SoqlValue[] }
  | { kind: 'like'; field: string; pattern: string }
  | { kind: 'not'; condition: Condition }
  | { kind: 'and' | 'or'; conditions: Condition[] };

export interface SoqlQuery {
  fields: string[];
  object: string;
  where: Condition | undefined;
  limit: number | undefined;
}

type Token =
  | { type: 'word'; text: string }
  | { type: 'string'; text: string }
  | { type: 'number'; text: string }
  | { type: 'symbol'; text: string };

/** A literal backslash inside a string token, kept apart from the \\% and \\_ of LIKE patterns. */
const BACKSLASH = '\uE000';

const UNESCAPE: Record<string, string> = {
  n: '\n',
  r: '\r',
  t: '\t',
  b: '\b',
  f: '\f',
  '"': '"',
  "'": "'",
  '\\': '\\',
};

function tokenize(soql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < soql.length) {
    const c = soql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= soql.length) throw new SoqlError('MALFORMED_QUERY', 'unterminated string literal');
        const d = soql[i]!;
        if (d === '\\') {
          const next = soql[i + 1];
          if (next === undefined) throw new SoqlError('MALFORMED_QUERY', 'unterminated string literal');
          // LIKE keeps \% and \_ for the pattern; other escapes become the character.
          if (next === '%' || next === '_') text += `\\${next}`;
          else if (next === '\\') text += BACKSLASH;
          else if (UNESCAPE[next] !== undefined) text += UNESCAPE[next];
          else
            throw new SoqlError(
              'MALFORMED_QUERY',
              `Invalid string literal: illegal escape sequence \\${next}`,
            );
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else {
          text += d;
          i++;
        }
      }
      tokens.push({ type: 'string', text });
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(soql.slice(i))!;
      tokens.push({ type: 'word', text: match[0] });
      i += match[0].length;
    } else if (/[0-9-]/.test(c)) {
      const match = /^-?\d+(\.\d+)?/.exec(soql.slice(i));
      if (!match) throw new SoqlError('MALFORMED_QUERY', `unexpected token: '${c}'`);
      tokens.push({ type: 'number', text: match[0] });
      i += match[0].length;
    } else {
      const two = soql.slice(i, i + 2);
      if (two === '!=' || two === '<>' || two === '<=' || two === '>=') {
        tokens.push({ type: 'symbol', text: two === '<>' ? '!=' : two });
        i += 2;
      } else if ('(),=<>'.includes(c)) {
        tokens.push({ type: 'symbol', text: c });
        i++;
      } else throw new SoqlError('MALFORMED_QUERY', `unexpected token: '${c}'`);
    }
  }
  return tokens;
}

class Parser {
  private at = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): SoqlQuery {
    this.keyword('SELECT');
    const fields = [this.identifier()];
    while (this.symbolIs(',')) {
      this.at++;
      fields.push(this.identifier());
    }
    this.keyword('FROM');
    const object = this.identifier();
    let where: Condition | undefined;
    let limit: number | undefined;
    if (this.wordIs('WHERE')) {
      this.at++;
      where = this.conditions();
    }
    if (this.wordIs('LIMIT')) {
      this.at++;
      const token = this.next();
      if (token?.type !== 'number') throw this.unexpected(token);
      limit = Number(token.text);
    }
    if (this.at < this.tokens.length) throw this.unexpected(this.tokens[this.at]);
    return { fields, object, where, limit };
  }

  /** cond (AND cond)* or cond (OR cond)*: Salesforce refuses mixing them without parentheses. */
  private conditions(): Condition {
    const first = this.condition();
    const list = [first];
    let joiner: 'and' | 'or' | undefined;
    while (this.wordIs('AND') || this.wordIs('OR')) {
      const word = this.next()!.text.toLowerCase() as 'and' | 'or';
      if (joiner && joiner !== word)
        throw new SoqlError('MALFORMED_QUERY', `unexpected token: '${word.toUpperCase()}' (use parentheses)`);
      joiner = word;
      list.push(this.condition());
    }
    return joiner ? { kind: joiner, conditions: list } : first;
  }

  private condition(): Condition {
    if (this.wordIs('NOT')) {
      this.at++;
      return { kind: 'not', condition: this.condition() };
    }
    if (this.symbolIs('(')) {
      this.at++;
      const inner = this.conditions();
      this.expectSymbol(')');
      return inner;
    }
    const field = this.identifier();
    if (this.wordIs('LIKE')) {
      this.at++;
      const token = this.next();
      if (token?.type !== 'string') throw this.unexpected(token);
      return { kind: 'like', field, pattern: token.text };
    }
    let negate = false;
    if (this.wordIs('NOT')) {
      this.at++;
      negate = true;
    }
    if (this.wordIs('IN')) {
      this.at++;
      this.expectSymbol('(');
      const values = [this.value()];
      while (this.symbolIs(',')) {
        this.at++;
        values.push(this.value());
      }
      this.expectSymbol(')');
      return { kind: 'in', field, negate, values };
    }
    if (negate) throw this.unexpected(this.tokens[this.at]);
    const op = this.next();
    if (op?.type !== 'symbol' || (op.text !== '=' && op.text !== '!=')) throw this.unexpected(op);
    return { kind: 'compare', field, op: op.text, value: this.value() };
  }

  private value(): SoqlValue {
    const token = this.next();
    if (token?.type === 'string') return token.text.replace(/\\([%_])/g, '$1').replaceAll(BACKSLASH, '\\');
    if (token?.type === 'number') return Number(token.text);
    if (token?.type === 'word') {
      const word = token.text.toLowerCase();
      if (word === 'null') return null;
      if (word === 'true') return true;
      if (word === 'false') return false;
    }
    throw this.unexpected(token);
  }

  private identifier(): string {
    const token = this.next();
    if (token?.type !== 'word') throw this.unexpected(token);
    return token.text;
  }

  private keyword(word: string): void {
    const token = this.next();
    if (token?.type !== 'word' || token.text.toUpperCase() !== word) throw this.unexpected(token);
  }

  private wordIs(word: string): boolean {
    const token = this.tokens[this.at];
    return token?.type === 'word' && token.text.toUpperCase() === word;
  }

  private symbolIs(symbol: string): boolean {
    const token = this.tokens[this.at];
    return token?.type === 'symbol' && token.text === symbol;
  }

  private expectSymbol(symbol: string): void {
    const token = this.next();
    if (token?.type !== 'symbol' || token.text !== symbol) throw this.unexpected(token);
  }

  private next(): Token | undefined {
    return this.tokens[this.at++];
  }

  private unexpected(token: Token | undefined): SoqlError {
    return new SoqlError(
      'MALFORMED_QUERY',
      token ? `unexpected token: '${token.text}'` : 'unexpected end of query',
    );
  }
}

export function parseSoql(soql: string): SoqlQuery {
  return new Parser(tokenize(soql)).parse();
}

/** The fields a condition reads, for checks against the object's schema. */
export function conditionFields(condition: Condition | undefined): string[] {
  if (!condition) return [];
  switch (condition.kind) {
    case 'and':
    case 'or':
      return condition.conditions.flatMap(conditionFields);
    case 'not':
      return conditionFields(condition.condition);
    default:
      return [condition.field];
  }
}

/** Evaluates a condition on a record whose field values are read by `get` (case-insensitive names). */
export function evaluate(condition: Condition, get: (field: string) => unknown): boolean {
  switch (condition.kind) {
    case 'and':
      return condition.conditions.every((c) => evaluate(c, get));
    case 'or':
      return condition.conditions.some((c) => evaluate(c, get));
    case 'not':
      return !evaluate(condition.condition, get);
    case 'compare': {
      const equal = same(get(condition.field), condition.value);
      return condition.op === '=' ? equal : !equal;
    }
    case 'in': {
      const value = get(condition.field);
      const found = condition.values.some((candidate) => same(value, candidate));
      return condition.negate ? !found : found;
    }
    case 'like': {
      const value = get(condition.field);
      return typeof value === 'string' && likeRegex(condition.pattern).test(value);
    }
  }
}

function same(value: unknown, literal: SoqlValue): boolean {
  if (literal === null) return value === null || value === undefined || value === '';
  if (typeof literal === 'string' && typeof value === 'string')
    return value.toLowerCase() === literal.toLowerCase();
  return value === literal;
}

function likeRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && (pattern[i + 1] === '%' || pattern[i + 1] === '_')) {
      source += pattern[i + 1]!;
      i++;
    } else if (c === BACKSLASH) source += '\\\\';
    else if (c === '%') source += '.*';
    else if (c === '_') source += '.';
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'is');
}
