// Executes a rendered tierflow state machine with aws-local-stepfunctions,
// every Task mocked, and prints what happened as one JSON object on stdout
// for the Go test (statemachines/local_test.go) to assert on.
//
//   node [--require withresolvers-polyfill.cjs] run-local.mjs DEFINITION.json < SCENARIO.json
//
// SCENARIO: {
//   "input": {...}, "execution": "NAME",
//   "objects": {"KEY": JSON value},      // the lake's objects (plan.json, parts.json, derive.json)
//   "failures": [{"state": "ConvertPart", "match": "part-0002", "errors": ["States.TaskFailed", ...]}]
// }
// A call to a Task state whose input (as JSON) contains "match" throws the
// rule's next error; once its errors are used up, calls succeed.
//
// aws-local-stepfunctions 3.0.0 has no ItemReader (distributed Map reading
// its items from S3). TEST-ONLY TRANSFORMATION: every Map with an
// ItemReader becomes a Task "<Map> items" (the ItemReader's resource and
// Parameters, so its S3 key expression is still evaluated and checked) that
// leads into the same Map reading ItemsPath "$.__items". The Map's Catch is
// copied to that Task. Everything else runs as written.
//
// Output: {"status": "SUCCEEDED"|"FAILED", "error", "cause", "output",
//          "calls": [{"state", "resource", "input"}], "objects": {...},
//          "entered": [top-level state names, in order]}
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.TIERFLOW_TEST_NODE_MODULES;
if (!modules) throw new Error('TIERFLOW_TEST_NODE_MODULES is not set');
const { StateMachine } = await import(
  pathToFileURL(join(modules, 'aws-local-stepfunctions', 'build', 'main.node.esm.js')).href
);

const definition = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const scenario = JSON.parse(readFileSync(0, 'utf8'));
const objects = { ...(scenario.objects ?? {}) };
const failures = (scenario.failures ?? []).map((f) => ({ ...f, errors: [...f.errors] }));
const calls = [];

class TaskError extends Error {
  constructor(name, cause) {
    super(cause);
    this.name = name;
  }
}

// replaceItemReaders rewrites one States object (and nested ones) in place.
function replaceItemReaders(machine) {
  for (const [name, state] of Object.entries(machine.States)) {
    if (state.Type === 'Map') {
      replaceItemReaders(state.ItemProcessor ?? state.Iterator);
    }
    if (state.Type !== 'Map' || !state.ItemReader) continue;
    const reader = `${name} items`;
    const retarget = (t) => (t === name ? reader : t);
    machine.StartAt = retarget(machine.StartAt);
    for (const s of Object.values(machine.States)) {
      if (s.Next) s.Next = retarget(s.Next);
      if (s.Default) s.Default = retarget(s.Default);
      for (const c of s.Choices ?? []) c.Next = retarget(c.Next);
      for (const c of s.Catch ?? []) c.Next = retarget(c.Next);
    }
    machine.States[reader] = {
      Type: 'Task',
      Resource: state.ItemReader.Resource,
      Parameters: state.ItemReader.Parameters,
      ResultPath: '$.__items',
      Next: name,
      ...(state.Catch ? { Catch: state.Catch } : {}),
    };
    delete state.ItemReader;
    state.ItemsPath = '$.__items';
  }
}

// taskStates lists every Task state, nested Maps included.
function taskStates(machine, out = []) {
  for (const [name, state] of Object.entries(machine.States)) {
    if (state.Type === 'Task') out.push([name, state]);
    if (state.Type === 'Map') taskStates(state.ItemProcessor ?? state.Iterator, out);
  }
  return out;
}

function object(key) {
  if (!(key in objects)) throw new TaskError('S3.NoSuchKeyException', `NoSuchKey: ${key}`);
  return objects[key];
}

function handler(name, resource) {
  return async (input) => {
    calls.push({ state: name, resource, input });
    const text = JSON.stringify(input);
    const rule = failures.find((f) => f.state === name && text.includes(f.match ?? '') && f.errors.length > 0);
    if (rule) {
      const error = rule.errors.shift();
      throw new TaskError(error, `mocked ${error} for ${name}`);
    }
    switch (resource) {
      case 'arn:aws:states:::s3:getObject': // the ItemReader substitute: items of a JSON array
        return object(input.Key);
      case 'arn:aws:states:::aws-sdk:s3:getObject':
        return { Body: JSON.stringify(object(input.Key)), ContentType: 'application/json' };
      case 'arn:aws:states:::aws-sdk:s3:putObject':
        objects[input.Key] = JSON.parse(input.Body);
        return { ETag: '"0"' };
      case 'arn:aws:states:::ecs:runTask.sync':
        return { TaskArn: `arn:aws:ecs:us-east-1:123456789012:task/c/${calls.length}`, LastStatus: 'STOPPED', Containers: [{ ExitCode: 0 }] };
      case 'arn:aws:states:::sns:publish':
        return { MessageId: `m-${calls.length}` };
      case 'arn:aws:states:::athena:startQueryExecution.sync':
        return { QueryExecution: { QueryExecutionId: `q-${calls.length}`, Status: { State: 'SUCCEEDED' } } };
      case 'arn:aws:states:::states:startExecution': // the intake machine starting the job's
        return { ExecutionArn: `${input.StateMachineArn.replace(':stateMachine:', ':execution:')}:${input.Name}`, StartDate: '2020-04-02T06:00:00Z' };
      default:
        throw new Error(`run-local.mjs: no mock for resource ${resource} (state ${name})`);
    }
  };
}

replaceItemReaders(definition);
const handlers = {};
const retryIntervalOverrides = {};
for (const [name, state] of taskStates(definition)) {
  handlers[name] = handler(name, state.Resource);
  if (state.Retry) retryIntervalOverrides[name] = 0;
}
// Wait states take no time (the states entered show which were reached).
const waitTimeOverrides = {};
for (const [name, state] of Object.entries(definition.States)) {
  if (state.Type === 'Wait') waitTimeOverrides[name] = 0;
}

const machine = new StateMachine(definition, { validationOptions: { checkArn: true, checkPaths: true } });
const execution = machine.run(scenario.input ?? {}, {
  overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides, waitTimeOverrides },
  context: { Execution: { Name: scenario.execution ?? 'exec-1', Id: `arn:aws:states:us-east-1:123456789012:execution:tierflow-consumer-header:${scenario.execution ?? 'exec-1'}` } },
});
// The top-level states entered, in order (Map iterations' are left out).
const entered = [];
const logged = (async () => {
  for await (const ev of execution.eventLogs) {
    if (ev.type === 'StateEntered' && ev.index === undefined) entered.push(ev.state.name);
  }
})();
const report = { status: 'SUCCEEDED', calls, objects, entered };
try {
  report.output = await execution.result;
} catch (err) {
  const e = err.cause ?? err;
  Object.assign(report, { status: 'FAILED', error: e.name, cause: e.message });
}
await logged;
process.stdout.write(JSON.stringify(report));
