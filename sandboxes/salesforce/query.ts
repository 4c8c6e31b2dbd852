import { randomBytes } from 'node:crypto';
import { RequestError } from './errors.ts';
import type { SandboxOrg } from './records.ts';
import { conditionFields, evaluate, parseSoql, SoqlError } from './soql.ts';

export class SandboxQueries {
  private readonly cursors = new Map<string, { records: unknown[]; type: string }>();

  constructor(
    private readonly org: SandboxOrg,
    private readonly pageSize: number,
  ) {}

  query(soql: string, version: number) {
    const query = parseSoql(soql);
    const object = this.org.canonicalObject(query.object);
    if (!object) throw new SoqlError('INVALID_TYPE', `sObject type '${query.object}' is not supported.`);
    const fields = query.fields.map((name) => this.org.canonicalField(object, name, 'select'));
    for (const name of conditionFields(query.where)) {
      const field = this.org.canonicalField(object, name, 'filter');
      const def = this.org.schemaOf(object)[field]!;
      if (def.type === 'textarea' && (def.length ?? 0) > 255)
        throw new SoqlError('INVALID_FIELD', `field '${field}' can not be filtered in a query call`);
    }
    let records = [...this.org.table(object).values()];
    if (query.where) {
      const where = query.where;
      records = records.filter((record) =>
        evaluate(where, (name) => record[this.org.canonicalField(object, name, 'filter')]),
      );
    }
    if (query.limit !== undefined) records = records.slice(0, query.limit);
    const rows = records.map((record) => ({
      attributes: { type: object, url: this.org.recordUrl(object, record.Id, version) },
      ...Object.fromEntries(fields.map((field) => [field, record[field] ?? null])),
    }));
    return this.page(rows, object, version);
  }

  private page(rows: unknown[], type: string, version: number, offset = 0) {
    const size = this.pageSize;
    const records = rows.slice(offset, offset + size);
    const done = offset + size >= rows.length;
    const result: Record<string, unknown> = { totalSize: rows.length, done, records };
    if (!done) {
      const locator = `01g${randomBytes(6).toString('hex')}-${offset + size}`;
      this.cursors.set(locator, { records: rows, type });
      result.nextRecordsUrl = `/services/data/v${version.toFixed(1)}/query/${locator}`;
    }
    return result;
  }

  nextPage(locator: string, version: number) {
    const cursor = this.cursors.get(locator);
    if (!cursor)
      throw new RequestError(400, [{ errorCode: 'INVALID_QUERY_LOCATOR', message: 'invalid query locator' }]);
    this.cursors.delete(locator);
    return this.page(cursor.records, cursor.type, version, Number(locator.split('-').pop()));
  }
}
