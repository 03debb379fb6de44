// Validates OpenLineage events with ajv (JSON Schema draft 2020-12)
// against the official OpenLineage schemas checked in under spec/ and
// tierflow's own facet schemas, all loaded by their $id so that every
// $ref (a facet's to OpenLineage.json included) resolves locally:
//
//   node validate.cjs SCHEMA_DIR... < events.json     (a JSON array of events)
//
// Each event must be a RunEvent (the spec's root schema and its RunEvent
// definition). Each facet is validated against the schema its _schemaURL
// names, which must be loaded; the facet's key must be the one that schema
// declares, and the facet must sit where its base type says (a run facet in
// run.facets, an input facet in inputFacets, ...).
// Exit 0: all valid; 1: invalid (each problem on stderr); 2: usage.
const path = require('path');
const fs = require('fs');
const modules = process.env.TIERFLOW_TEST_NODE_MODULES;
if (!modules || process.argv.length < 3) {
  console.error('usage: TIERFLOW_TEST_NODE_MODULES=DIR node validate.cjs SCHEMA_DIR... < events.json');
  process.exit(2);
}
const Ajv2020 = require(path.join(modules, 'ajv/dist/2020')).default;
const addFormats = require(path.join(modules, 'ajv-formats')).default;
// strictRequired is a lint of a schema's own style, which the official
// OpenLineage.json fails ("not": {"required": ["job", "run"]}); the other
// strict checks stay on.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
ajv.addKeyword('example'); // an annotation the OpenLineage schemas use
addFormats(ajv);

const schemas = {};
function load(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) load(p);
    else if (e.name.endsWith('.json')) {
      const s = JSON.parse(fs.readFileSync(p, 'utf8'));
      if (!s.$id) throw new Error(p + ': no $id');
      schemas[s.$id] = s;
      ajv.addSchema(s);
    }
  }
}
for (const dir of process.argv.slice(2)) load(dir);

const root = 'https://openlineage.io/spec/2-0-2/OpenLineage.json';
const validateEvent = ajv.getSchema(root);
const validateRunEvent = ajv.getSchema(root + '#/$defs/RunEvent');
if (!validateEvent || !validateRunEvent) {
  console.error('OpenLineage.json (' + root + ') is not among the schemas');
  process.exit(2);
}

const problems = [];
function fail(where, msg) { problems.push(where + ': ' + msg); }
function errors(v) { return JSON.stringify(v.errors.map(e => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`)); }

// base is the facet kind a location takes.
function facets(where, obj, base) {
  if (obj === undefined) return;
  for (const [key, facet] of Object.entries(obj)) {
    const at = where + '.' + key;
    const url = facet && facet._schemaURL;
    if (typeof url !== 'string') { fail(at, 'no _schemaURL'); continue; }
    const v = ajv.getSchema(url);
    if (!v) { fail(at, 'its _schemaURL ' + url + ' names no loaded schema'); continue; }
    if (!v(facet)) fail(at, 'invalid against ' + url + ': ' + errors(v));
    const [id, frag] = url.split('#');
    const s = schemas[id];
    const props = (s.properties || {});
    const declared = Object.keys(props).filter(k => props[k].$ref === '#' + frag);
    if (declared.length && !declared.includes(key)) fail(at, `the facet's schema names it ${declared.join(' or ')}, not ${key}`);
    const def = frag.split('/').reduce((o, k) => k ? o[k] : o, s);
    const ref = ((def.allOf || [])[0] || {}).$ref || '';
    const kind = ref.split('/').pop();
    if (kind !== base) fail(at, `a facet of kind ${kind} placed where a ${base} belongs`);
  }
}

const events = JSON.parse(fs.readFileSync(0, 'utf8'));
if (!Array.isArray(events) || events.length === 0) {
  console.error('want a non-empty JSON array of events on stdin');
  process.exit(2);
}
events.forEach((ev, i) => {
  const where = `event ${i} (${ev.eventType} ${ev.job && ev.job.name})`;
  if (!validateEvent(ev)) fail(where, 'invalid OpenLineage event: ' + errors(validateEvent));
  if (!validateRunEvent(ev)) fail(where, 'not a RunEvent: ' + errors(validateRunEvent));
  if (!['START', 'COMPLETE', 'FAIL', 'ABORT'].includes(ev.eventType)) fail(where, 'eventType ' + ev.eventType);
  facets(where + ' run.facets', ev.run && ev.run.facets, 'RunFacet');
  facets(where + ' job.facets', ev.job && ev.job.facets, 'JobFacet');
  (ev.inputs || []).forEach((d, k) => {
    facets(`${where} inputs[${k}].facets`, d.facets, 'DatasetFacet');
    facets(`${where} inputs[${k}].inputFacets`, d.inputFacets, 'InputDatasetFacet');
  });
  (ev.outputs || []).forEach((d, k) => {
    facets(`${where} outputs[${k}].facets`, d.facets, 'DatasetFacet');
    facets(`${where} outputs[${k}].outputFacets`, d.outputFacets, 'OutputDatasetFacet');
  });
});
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`${events.length} events valid`);
