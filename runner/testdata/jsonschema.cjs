// Validates JSON on stdin against a definition of docs/schemas/cli.schema.json
// with ajv (a real JSON Schema validator), for the Go tests of --output json.
//   node jsonschema.cjs SCHEMA DEFINITION < output.json
// Exit 0: valid; 1: invalid (the errors on stderr); 2: usage.
const path = require('path');
const fs = require('fs');
const modules = process.env.TIERFLOW_TEST_NODE_MODULES;
if (!modules || process.argv.length !== 4) {
  console.error('usage: TIERFLOW_TEST_NODE_MODULES=DIR node jsonschema.cjs SCHEMA DEFINITION < json');
  process.exit(2);
}
const Ajv = require(path.join(modules, 'ajv')).default;
const addFormats = require(path.join(modules, 'ajv-formats')).default;
const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv);
const schema = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
ajv.addSchema(schema);
const validate = ajv.getSchema(schema.$id + '#/definitions/' + process.argv[3]);
if (!validate) {
  console.error('no definition ' + process.argv[3]);
  process.exit(2);
}
const data = JSON.parse(fs.readFileSync(0, 'utf8'));
if (!validate(data)) {
  console.error(JSON.stringify(validate.errors, null, 2));
  process.exit(1);
}
