import { didYouMeanSuffix } from '../util/did-you-mean.ts';

/**
 * The grammar a route (or source mapping) condition must follow, checked
 * before Liquid sees it. Liquid's own `if` parser is forgiving in ways that
 * change routing: it reads `a == 'x' andd 1 == 1` as a chain whose unknown
 * word is a variable and whose result is true, drops a stray `>` in
 * `score >>= 3`, and accepts a dangling `and`. A route that silently matches
 * everything (or nothing) is worse than one that refuses to load, so anything
 * outside this grammar is an error with its column:
 *
 *   condition := clause (("and" | "or") clause)*
 *   clause    := ["not"] operand [operator operand]
 *   operator  := == | != | <> | < | > | <= | >= | contains
 *   operand   := 'text' | "text" | number | true | false | nil | null | empty | blank | path
 *   path      := name ("." name | "[" digits "]" | "[" 'text' "]")*
 *
 * Liquid has no parentheses: `and` and `or` are read right to left
 * (docs/configuration.md says so with an example).
 */
export class ConditionSyntaxError extends Error {
  /** 1-based column inside the expression. */
  readonly column: number;
  constructor(message: string, column: number) {
    super(`${message} (column ${column} of the condition)`);
    this.name = 'ConditionSyntaxError';
    this.column = column;
  }
}

/** A variable a condition reads, e.g. `escalation.priority`, and where it starts. */
export interface ConditionPath {
  /** Segments in order; an index `[0]` is the string "0". */
  segments: string[];
  /** The path as written. */
  text: string;
  column: number;
}

type Token =
  | { kind: 'string' | 'number' | 'operator'; text: string; column: number }
  | { kind: 'word'; text: string; column: number }
  | { kind: 'path'; path: ConditionPath; text: string; column: number };

const COMPARISONS = ['==', '!=', '<>', '<=', '>=', '<', '>'];
const CONNECTIVES = ['and', 'or'];
const LITERAL_WORDS = ['true', 'false', 'nil', 'null', 'empty', 'blank'];
const KEYWORDS = [...CONNECTIVES, 'not', 'contains', ...LITERAL_WORDS];
const NAME = /[A-Za-z_][A-Za-z0-9_-]*/y;

function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < expression.length) {
    const char = expression[at] as string;
    const column = at + 1;
    if (/\s/.test(char)) {
      at++;
      continue;
    }
    if (char === "'" || char === '"') {
      const end = expression.indexOf(char, at + 1);
      if (end === -1)
        throw new ConditionSyntaxError(`the text starting with ${char} is never closed`, column);
      tokens.push({ kind: 'string', text: expression.slice(at, end + 1), column });
      at = end + 1;
      continue;
    }
    const number = /-?\d+(\.\d+)?(?![A-Za-z_.])/y;
    number.lastIndex = at;
    const numberMatch = number.exec(expression);
    if (numberMatch) {
      tokens.push({ kind: 'number', text: numberMatch[0], column });
      at += numberMatch[0].length;
      continue;
    }
    const operator = COMPARISONS.find((candidate) => expression.startsWith(candidate, at));
    if (operator) {
      tokens.push({ kind: 'operator', text: operator, column });
      at += operator.length;
      continue;
    }
    NAME.lastIndex = at;
    const name = NAME.exec(expression);
    if (!name) {
      const hint =
        char === '(' || char === ')'
          ? ': conditions have no parentheses (and/or are read right to left)'
          : char === '&' || (char === '|' && expression[at + 1] === '|')
            ? ': write `and` / `or`'
            : char === '|'
              ? ': a condition takes no filters (compare the field itself)'
              : char === '='
                ? ': compare with `==`'
                : '';
      throw new ConditionSyntaxError(`unexpected "${char}"${hint}`, column);
    }
    at += name[0].length;
    if (KEYWORDS.includes(name[0]) && !/^[.[]/.test(expression.slice(at))) {
      tokens.push({ kind: 'word', text: name[0], column });
      continue;
    }
    const segments = [name[0]];
    for (;;) {
      if (expression[at] === '.') {
        NAME.lastIndex = at + 1;
        const next = NAME.exec(expression);
        if (!next) throw new ConditionSyntaxError('a field name must follow "."', at + 2);
        segments.push(next[0]);
        at = NAME.lastIndex;
      } else if (expression[at] === '[') {
        const index = /\[(\d+|'[^']*'|"[^"]*")\]/y;
        index.lastIndex = at;
        const match = index.exec(expression);
        if (!match) throw new ConditionSyntaxError('write an index as [0] or a key as ["name"]', at + 1);
        segments.push((match[1] as string).replace(/^['"]|['"]$/g, ''));
        at = index.lastIndex;
      } else break;
    }
    const text = expression.slice(column - 1, at);
    tokens.push({ kind: 'path', path: { segments, text, column }, text, column });
  }
  return tokens;
}

function describe(token: Token | undefined): string {
  return token === undefined ? 'the end of the condition' : `"${token.text}"`;
}

/**
 * Parses a condition against the grammar above; returns every path it reads
 * so the caller can check them against the fields that exist.
 *
 * @example
 * parseCondition("escalation.priority == 'high' and lead.score >= 70").map((p) => p.text)
 * // ['escalation.priority', 'lead.score']
 * parseCondition("a == 'x' andd b") // throws: expected `and`, `or` or the end … found "andd" (did you mean "and"?)
 */
export function parseCondition(expression: string): ConditionPath[] {
  const tokens = tokenize(expression);
  const paths: ConditionPath[] = [];
  let index = 0;
  const end = expression.length + 1;
  if (tokens.length === 0) throw new ConditionSyntaxError('the condition is empty', 1);

  const operand = (after: string) => {
    const token = tokens[index];
    if (token?.kind === 'string' || token?.kind === 'number') {
      index++;
      return;
    }
    if (token?.kind === 'word' && LITERAL_WORDS.includes(token.text)) {
      index++;
      return;
    }
    if (token?.kind === 'path') {
      paths.push(token.path);
      index++;
      return;
    }
    throw new ConditionSyntaxError(
      `expected a field or a value ${after}, found ${describe(token)}`,
      token?.column ?? end,
    );
  };

  for (;;) {
    const first = tokens[index];
    const start = index === 0 ? 'at the start' : `after "${tokens[index - 1]?.text}"`;
    if (first?.kind === 'word' && first.text === 'not') index++;
    operand(first?.kind === 'word' && first.text === 'not' ? 'after "not"' : start);
    const next = tokens[index];
    if (next?.kind === 'operator' || (next?.kind === 'word' && next.text === 'contains')) {
      index++;
      operand(`after "${next.text}"`);
    }
    const joiner = tokens[index];
    if (joiner === undefined) return paths;
    if (joiner.kind === 'word' && CONNECTIVES.includes(joiner.text)) {
      index++;
      if (tokens[index] === undefined)
        throw new ConditionSyntaxError(
          `the condition ends after "${joiner.text}"; a comparison must follow`,
          end,
        );
      continue;
    }
    const word = joiner.kind === 'path' ? joiner.text : '';
    const suggestion = word ? didYouMeanSuffix(word, [...CONNECTIVES, 'contains']) : '';
    throw new ConditionSyntaxError(
      `expected "and", "or" or the end of the condition after "${tokens[index - 1]?.text}", found ${describe(joiner)}${suggestion}`,
      joiner.column,
    );
  }
}
