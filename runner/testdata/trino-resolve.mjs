// A module resolve hook for trino.mjs: dt-sql-parser's ES modules import
// "./parser" and "../common/types" without an extension, which a bundler
// resolves and Node does not; this tries FILE.js, then DIR/index.js.
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function resolve(specifier, context, next) {
  if (/^\.\.?\//.test(specifier) && context.parentURL && !/\.[cm]?js$/.test(specifier)) {
    const base = new URL(specifier, context.parentURL).href;
    for (const candidate of [base + '.js', base + '/index.js']) {
      const file = fileURLToPath(candidate);
      if (existsSync(file) && statSync(file).isFile()) {
        return next(candidate, context);
      }
    }
  }
  return next(specifier, context);
}
