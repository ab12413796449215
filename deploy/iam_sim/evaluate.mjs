// Test-only IAM evaluator (deploy/iam_check.py talks to it): one JSON request per stdin line,
// one JSON answer per stdout line. The evaluation is @cloud-copilot/iam-simulate's (AWS's
// documented policy evaluation logic, all condition operators, and validation of actions,
// resource types and context keys against AWS's Service Authorization Reference data).
import { createInterface } from 'node:readline'
import { runSimulation } from '@cloud-copilot/iam-simulate'

const rl = createInterface({ input: process.stdin })
for await (const line of rl) {
  if (!line.trim()) continue
  const req = JSON.parse(line)
  let answer
  try {
    const r = await runSimulation({
      identityPolicies: req.policies.map((p, i) => ({ name: p.name || `policy${i}`, policy: p.document })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(req.resourcePolicy ? { resourcePolicy: req.resourcePolicy } : {}),
      request: {
        action: req.action,
        principal: req.principal,
        resource: { accountId: req.account, resource: req.resource },
        contextVariables: req.context || {}
      }
    }, {})
    if (r.resultType === 'error') {
      answer = { id: req.id, result: 'Error', errors: r.errors }
    } else {
      const results = r.resultType === 'single' ? [r.result] : r.results
      answer = {
        id: req.id, result: r.overallResult,
        ignoredContextKeys: results.flatMap((x) => x.ignoredContextKeys || [])
      }
    }
  } catch (e) {
    answer = { id: req.id, result: 'Error', errors: { message: String(e && e.message || e) } }
  }
  process.stdout.write(JSON.stringify(answer) + '\n')
}
