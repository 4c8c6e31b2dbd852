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
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
