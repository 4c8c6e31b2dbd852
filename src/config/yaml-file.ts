import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, Scalar, visit } from 'yaml';
import { formatPath } from '../util/key-path.ts';
import type { ConfigProblem } from './config-error.ts';
import { hasInterpolation, interpolate } from './interpolate.ts';

export type KeyPath = readonly (string | number)[];

/**
 * A parsed YAML file that remembers where every value came from, so that a
 * problem found later (by schema validation, template compilation, a route
 * naming a missing connector) can be reported as `file:line:col`.
 */
export class YamlFile {
  readonly problems: ConfigProblem[] = [];
  readonly data: unknown;
  private readonly doc;
  private readonly lines = new LineCounter();

  constructor(
    readonly file: string,
    text: string,
    env: Record<string, string | undefined>,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    for (const error of [...this.doc.errors, ...this.doc.warnings]) {
      const at = this.lines.linePos(error.pos[0]);
      this.problems.push({ file, line: at.line, col: at.col, path: '', message: firstLine(error.message) });
    }
    if (this.doc.errors.length > 0) {
      this.data = undefined;
      return;
    }
    this.interpolateScalars(env);
    this.data = this.doc.toJS({ maxAliasCount: 100 }) ?? {};
  }

  static read(file: string, env: Record<string, string | undefined>): YamlFile {
    return new YamlFile(file, readFileSync(file, 'utf8'), env);
  }

  /** Records a problem located at the value (or, with `atKey`, the key) found at `path`. */
  report(path: KeyPath, message: string, options: { atKey?: boolean } = {}): void {
    const { line, col } = this.positionOf(path, options.atKey ?? false);
    this.problems.push({ file: this.file, line, col, path: formatPath(path), message });
  }

  /** The nearest position for a path: a missing key resolves to its closest existing parent. */
  positionOf(path: KeyPath, atKey = false): { line: number; col: number } {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = atKey && depth === path.length ? this.keyNode(path) : this.valueNode(path.slice(0, depth));
      if (node?.range) return this.lines.linePos(node.range[0]);
    }
    return { line: 1, col: 1 };
  }

  private valueNode(path: KeyPath): Node | undefined {
    if (path.length === 0) return (this.doc.contents as Node | null) ?? undefined;
    const node = this.doc.getIn(path, true);
    return node && typeof node === 'object' && 'range' in node ? (node as Node) : undefined;
  }

  private keyNode(path: KeyPath): Node | undefined {
    const parent = this.valueNode(path.slice(0, -1));
    const key = path[path.length - 1];
    if (!isMap(parent)) return undefined;
    const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === String(key));
    return (pair?.key as Node | undefined) ?? undefined;
  }

  private interpolateScalars(env: Record<string, string | undefined>): void {
    visit(this.doc, {
      Scalar: (_key, node, ancestors) => {
        if (typeof node.value !== 'string' || !hasInterpolation(node.value)) return;
        const isMapKey = ancestors.length > 0 && isPairKey(ancestors[ancestors.length - 1], node);
        if (isMapKey) return;
        const result = interpolate(node.value, env);
        for (const missing of result.missing) {
          const at = this.lines.linePos(node.range?.[0] ?? 0);
          this.problems.push({
            file: this.file,
            line: at.line,
            col: at.col,
            path: formatPath(pathOf(ancestors, node)),
            message: `environment variable ${missing.name} is not set (use \${${missing.name}:-default} for a fallback)`,
          });
        }
        node.value = node.type === Scalar.PLAIN ? plainScalarValue(result.value) : result.value;
      },
    });
  }
}

/** The key path of a node from the ancestors `visit` hands the visitor. */
function pathOf(ancestors: readonly unknown[], node: unknown): (string | number)[] {
  const path: (string | number)[] = [];
  const chain = [...ancestors, node];
  chain.forEach((ancestor, i) => {
    if (isPair(ancestor) && isScalar(ancestor.key)) path.push(String(ancestor.key.value));
    if (isSeq(ancestor)) path.push(ancestor.items.indexOf(chain[i + 1] as never));
  });
  return path;
}

function isPairKey(parent: unknown, node: unknown): boolean {
  return typeof parent === 'object' && parent !== null && 'key' in parent && parent.key === node;
}

/** An unquoted `${PORT:-3000}` should become the number 3000, as if written literally. */
function plainScalarValue(text: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
