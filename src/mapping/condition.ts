import { didYouMeanSuffix } from '../util/did-you-mean.ts';
import { type ConditionPath, ConditionSyntaxError, parseCondition } from './condition-syntax.ts';
import { engine } from './engine.ts';
import { explain } from './template.ts';

/** A compiled route `when:` expression such as `feedback.rating <= 2`. */
export type Condition = (event: object) => boolean;

/** Says what is wrong with a field a condition reads, or `undefined` when it exists. */
export type PathCheck = (path: ConditionPath) => string | undefined;

/**
 * Compiles a condition once at load time so syntax errors, unknown filters and
 * (with `checkPath`) misspelled fields surface in `leadrelay check`, not as a
 * route that silently matches everything or nothing. The grammar is stricter
 * than Liquid's own (condition-syntax.ts says why).
 *
 * @example
 * const lowRating = compileCondition('feedback.rating <= 2');
 * lowRating({ feedback: { rating: 1 } }) // true
 * compileCondition("escalation.reason == 'x' andd 1 == 1") // throws, naming column 27
 */
export function compileCondition(expression: string, checkPath?: PathCheck): Condition {
  if (/\{[{%]|[%}]\}/.test(expression)) throw new Error('write the bare expression, without {{ }} or {% %}');
  const paths = parseCondition(expression);
  for (const path of paths) {
    const problem = checkPath?.(path);
    if (problem) throw new ConditionSyntaxError(problem, path.column);
  }
  let template: ReturnType<typeof engine.parse>;
  try {
    template = engine.parse(`{% if ${expression} %}1{% endif %}`);
  } catch (error) {
    throw new Error(explain((error as Error).message));
  }
  return (event) => engine.renderSync(template, event) === '1';
}

/**
 * A {@link PathCheck} for contexts whose top level is fixed, such as a source
 * mapping's `{ payload, headers, source }`: below that anything goes (a
 * platform's payload has no schema of ours), but a misspelled root is caught.
 */
export function rootsCheck(roots: readonly string[]): PathCheck {
  return (path) => {
    const root = path.segments[0] as string;
    if (roots.includes(root)) return undefined;
    return `"${root}" is not available here${didYouMeanSuffix(root, roots) || `; a condition reads ${roots.join(', ')}`}`;
  };
}
