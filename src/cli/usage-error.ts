/** A command was called wrongly: exit code 1 with the message, no stack. */
export class UsageError extends Error {
  override name = 'UsageError';
}
