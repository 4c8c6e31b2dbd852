/** One thing wrong in a configuration file, located so an editor can jump to it. */
export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  /** Dotted key path such as `sources.website-bot.verify.scheme`; empty for the whole file. */
  path: string;
  message: string;
}

export function formatProblem(problem: ConfigProblem): string {
  const where = `${problem.file}:${problem.line}:${problem.col}`;
  return problem.path ? `${where}: ${problem.path}: ${problem.message}` : `${where}: ${problem.message}`;
}

/** Thrown when configuration cannot be used; carries every problem found, not just the first. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    // Files in the order they were read, each top to bottom, as an editor lists them.
    const fileOrder = [...new Set(problems.map((p) => p.file))];
    const sorted = [...problems].sort(
      (a, b) => fileOrder.indexOf(a.file) - fileOrder.indexOf(b.file) || a.line - b.line || a.col - b.col,
    );
    super(sorted.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = sorted;
  }
}
