/**
 * The customer's template: what the code says (`contract.json`: the hunter's read actions, the
 * normalizer's priced calls), a role only our account can assume and only with the ExternalId,
 * and a rule forwarding to our bus. Then the CLI: `cdk synth` offline writes both templates,
 * and cfn-lint (when `DD0C_TEST_CFN_LINT` names it, as scripts/test.sh does) finds no error.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { contract } from '../lib/contract.js';
import { customerTemplate } from '../lib/customer-template.js';
import { placeholderBinaries, scratch } from './fixtures.js';

const template = customerTemplate() as any;
const here = fileURLToPath(new URL('..', import.meta.url));

describe('the customer template', () => {
  it('grants the role exactly the read actions the zombie hunter calls', () => {
    const role = template.Resources.ReadOnlyRole;
    const statements = role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toEqual(contract.customer.read_actions);
    for (const action of statements[0].Action) {
      expect(action).toMatch(/^[a-z0-9-]+:(Describe|Get|List)[A-Za-z]+$/);
    }
  });

  it('lets only our account assume the role, and only with the ExternalId', () => {
    const trust = template.Resources.ReadOnlyRole.Properties.AssumeRolePolicyDocument.Statement;
    expect(trust).toEqual([
      {
        Effect: 'Allow',
        Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${Dd0cAccountId}:root' } },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } } },
      },
    ]);
    expect(template.Resources.ReadOnlyRole.Properties.RoleName).toEqual({ Ref: 'RoleName' });
    expect(template.Parameters.RoleName.Default).toBe(contract.customer.role_name);
    expect(contract.customer.role_name).toMatch(new RegExp(template.Parameters.RoleName.AllowedPattern));
  });

  it('forwards the priced calls to our bus, with a role that may only put events there', () => {
    const rule = template.Resources.ForwardRule.Properties;
    expect(rule.EventPattern).toEqual(contract.customer.event_pattern);
    expect(rule.Targets).toEqual([
      { Id: 'dd0c-cost', Arn: { Ref: 'EventBusArn' }, RoleArn: { 'Fn::GetAtt': ['ForwardRole', 'Arn'] } },
    ]);
    const forward = template.Resources.ForwardRole.Properties.Policies[0].PolicyDocument.Statement;
    expect(forward).toEqual([{ Effect: 'Allow', Action: 'events:PutEvents', Resource: { Ref: 'EventBusArn' } }]);
  });

  it('grants the opt-in remediation role exactly the actions the code takes, never on a protected resource', () => {
    const r = contract.customer.remediation;
    expect(template.Parameters.CreateRemediationRole.Default).toBe('false');
    const role = template.Resources.RemediationRole;
    expect(role.Condition).toBe('CreateRemediationRole');
    expect(template.Conditions.CreateRemediationRole['Fn::And']).toContainEqual({ Condition: 'CreateRole' });
    expect(role.Properties.RoleName).toEqual({ Ref: 'RemediationRoleName' });
    expect(template.Parameters.RemediationRoleName.Default).toBe(r.role_name);
    expect(r.role_name).toMatch(new RegExp(template.Parameters.RemediationRoleName.AllowedPattern));
    expect(role.Properties.AssumeRolePolicyDocument).toEqual(
      template.Resources.ReadOnlyRole.Properties.AssumeRolePolicyDocument,
    );
    const statements = role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
    const allowed = statements.filter((s: any) => s.Effect === 'Allow').flatMap((s: any) => [s.Action].flat());
    expect([...allowed].sort()).toEqual(r.actions);
    const tagging = statements.find((s: any) => s.Action === 'ec2:CreateTags');
    expect(tagging.Condition).toEqual({ StringEquals: { 'ec2:CreateAction': r.tagging_calls } });
    const [deny] = statements.filter((s: any) => s.Effect === 'Deny');
    const changes = allowed.filter((a: string) => !/:Describe/.test(a) && a !== 'ec2:CreateTags');
    expect(deny.Action).toEqual(changes);
    expect(changes).toContain('ec2:DeleteVolume');
    expect(deny.Condition).toEqual({ Null: { [`aws:ResourceTag/${r.protect_tag}`]: 'false' } });
  });

  it('takes every parameter the quick-create link fills in, and the opt-in left to the customer', () => {
    // functions/api/src/quick_create.rs fills these; the remediation role's two keep their
    // defaults unless the customer turns it on in the console.
    expect(Object.keys(template.Parameters).sort()).toEqual(
      [
        'CreateRemediationRole',
        'CreateRole',
        'Dd0cAccountId',
        'EventBusArn',
        'ExternalId',
        'RemediationRoleName',
        'RoleName',
      ].sort(),
    );
    expect('o-example'.match(new RegExp(template.Parameters.EventBusArn.AllowedPattern))).toBeNull();
    expect(
      'arn:aws:events:eu-west-1:210987654321:event-bus/dd0c-cost-customers'.match(
        new RegExp(template.Parameters.EventBusArn.AllowedPattern),
      ),
    ).not.toBeNull();
  });
});

describe('cdk synth', () => {
  const out = scratch('synth-');

  it('synthesizes offline from the CLI, writing the stack and the customer template', () => {
    const run = spawnSync(
      'npx',
      ['cdk', 'synth', '--quiet', '--no-notices', '--output', out, '-c', `lambdaDir=${placeholderBinaries()}`],
      { cwd: here, encoding: 'utf8', env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' } },
    );
    expect(run.status, run.stderr).toBe(0);
    const stack = JSON.parse(readFileSync(path.join(out, 'Dd0cCost.template.json'), 'utf8'));
    expect(stack.Resources).toBeDefined();
    const customer = JSON.parse(readFileSync(path.join(out, 'customer.template.json'), 'utf8'));
    expect(customer).toEqual(JSON.parse(JSON.stringify(customerTemplate())));
  });

  const cfnLint = process.env.DD0C_TEST_CFN_LINT;
  it.skipIf(!cfnLint)('cfn-lint finds no error in either template', () => {
    for (const file of ['Dd0cCost.template.json', 'customer.template.json']) {
      // Errors only (E…); warnings are printed for the reader.
      const run = spawnSync(cfnLint!, ['--format', 'parseable', path.join(out, file)], { encoding: 'utf8' });
      const errors = run.stdout.split('\n').filter((l) => /:E\d{4}:/.test(l));
      if (run.stdout.trim()) console.log(run.stdout);
      expect(errors, file).toEqual([]);
      expect(run.error, file).toBeUndefined();
    }
    expect(execFileSync(cfnLint!, ['--version'], { encoding: 'utf8' })).toMatch(/cfn-lint/);
  });
});
