/** The parts of Knex's SQLite dialect that src/db/sqlite-client.ts extends (Knex ships no types for them). */
declare module 'knex/lib/dialects/better-sqlite3/index.js' {
  export default class ClientBetterSqlite3 {
    constructor(config: unknown);
    transaction(container: unknown, config?: unknown, outerTx?: unknown): unknown;
    _query(conn: unknown, obj: unknown): Promise<unknown>;
    _optSafeIntegers(options: unknown): boolean | undefined;
    _formatBindings(bindings: unknown[] | undefined): unknown[];
  }
}

declare module 'knex/lib/dialects/sqlite3/execution/sqlite-transaction.js' {
  export default class SqliteTransaction {
    constructor(client: unknown, container: unknown, config?: unknown, outerTx?: unknown);
    query(conn: unknown, sql: string): Promise<unknown>;
    commit(conn: unknown, value: unknown): Promise<unknown>;
    acquireConnection(config: unknown, cb: (conn: any) => Promise<unknown>): Promise<unknown>;
  }
}
