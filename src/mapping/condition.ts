import { engine } from './engine.ts';
import { explain } from './template.ts';

/** A compiled route `when:` expression such as `feedback.rating <= 2`. */
export type Condition = (event: object) => boolean;

/**
 * Compiles a condition once at load time so syntax errors and unknown filters
 * surface in `leadrelay check`, not while an event is being routed.
 *
 * @example
 * const lowRating = compileCondition('feedback.rating <= 2');
 * lowRating({ feedback: { rating: 1 } }) // true
 */
export function compileCondition(expression: string): Condition {
  if (/\{[{%]|[%}]\}/.test(expression)) throw new Error('write the bare expression, without {{ }} or {% %}');
  let template: ReturnType<typeof engine.parse>;
  try {
    template = engine.parse(`{% if ${expression} %}1{% endif %}`);
  } catch (error) {
    throw new Error(explain((error as Error).message));
  }
  return (event) => engine.renderSync(template, event) === '1';
}
