import { z } from 'zod';
import { compileTemplate, type Template } from './template.ts';

/**
 * A zod field that compiles its string into a {@link Template} while the
 * configuration is validated, so a broken template is reported at its
 * `file:line:col` like any other config error. JSON Schema sees a string.
 *
 * @example
 * const settings = z.object({ subject: templateField().default('Chat with {{ contact.name }}') });
 */
export function templateField() {
  return z.string().transform((source, ctx): Template => {
    try {
      return compileTemplate(source);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `invalid template: ${(error as Error).message}` });
      return z.NEVER;
    }
  });
}

/** A map of field name → template, e.g. CRM properties. */
export function templateMap() {
  return z.record(z.string(), templateField());
}
