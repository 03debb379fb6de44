// Parses SQL statements with the Trino grammar of dt-sql-parser (its
// ANTLR4 parser generated from TrinoSql.g4), for the Go tests of validate:
// the CREATE TABLE ... AS statements the runner renders for Athena must be
// Trino SQL.
//   TIERFLOW_TEST_NODE_MODULES=DIR node trino.mjs < statements.json
// stdin: a JSON array of statements; stdout: a JSON array, for each
// statement the grammar's error messages (empty: it parses).
// Exit 0: parsed them all (whatever the errors); 2: usage.
import { register } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.TIERFLOW_TEST_NODE_MODULES;
if (!modules) {
  console.error('usage: TIERFLOW_TEST_NODE_MODULES=DIR node trino.mjs < statements.json');
  process.exit(2);
}
register('./trino-resolve.mjs', import.meta.url);
const { TrinoSQL } = await import(pathToFileURL(join(modules, 'dt-sql-parser', 'dist', 'index.js')).href);
const trino = new TrinoSQL();
const statements = JSON.parse(readFileSync(0, 'utf8'));
const out = statements.map((sql) => trino.validate(sql).map((e) => `${e.startLine}:${e.startColumn}: ${e.message}`));
process.stdout.write(JSON.stringify(out));
