/**
 * The customer's CloudFormation template, built from the contract: the read-only role dd0c/cost
 * assumes (trusted by our account, only with the account's ExternalId) and, in the region the
 * stack is created in, a rule forwarding the CloudTrail calls that create cost to our event bus.
 *
 * One click: `POST /v1/accounts` answers with a quick-create link filling every parameter.
 * Several regions or accounts: deploy it as a StackSet (service-managed across an organization)
 * to each region to watch, with `CreateRole=true` in one region only (IAM is global).
 *
 * Opt-in, `CreateRemediationRole=true`: a second role, trusted the same way, that may take
 * exactly the remediations the code knows (stop, image and terminate instances, snapshot and
 * delete a volume, release an address) and is denied every one of them on a resource tagged
 * `dd0c:protect`. Reading and acting stay separate roles.
 */
import { contract as bundled, type Contract } from './contract.js';

const policyVersion = '2012-10-17';

/** Only our account may assume a role, and only with the account's ExternalId. */
const trustOurAccount = {
  Version: policyVersion,
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${Dd0cAccountId}:root' } },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } } },
    },
  ],
};

/** The remediation role's permissions: describes anywhere, changes anywhere but on a protected
 * resource, tags only on what a remediation creates as its way back. */
function remediationPolicy(c: Contract): Record<string, unknown> {
  const r = c.customer.remediation;
  const describes = r.actions.filter((a) => /^[a-z0-9-]+:Describe/.test(a));
  const changes = r.actions.filter((a) => !describes.includes(a) && a !== 'ec2:CreateTags');
  return {
    Version: policyVersion,
    Statement: [
      { Sid: 'Dd0cCostRemediationDescribe', Effect: 'Allow', Action: describes, Resource: '*' },
      { Sid: 'Dd0cCostRemediate', Effect: 'Allow', Action: changes, Resource: '*' },
      {
        Sid: 'Dd0cCostTagWayBack',
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: '*',
        Condition: { StringEquals: { 'ec2:CreateAction': r.tagging_calls } },
      },
      {
        Sid: 'Dd0cCostProtect',
        Effect: 'Deny',
        Action: changes,
        Resource: '*',
        Condition: { Null: { [`aws:ResourceTag/${r.protect_tag}`]: 'false' } },
      },
    ],
  };
}

export function customerTemplate(c: Contract = bundled): Record<string, unknown> {
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description:
      'dd0c/cost: a read-only role for dd0c/cost (with your ExternalId) and a rule forwarding ' +
      'the CloudTrail calls that create cost to dd0c/cost. Deploy to each region to watch; ' +
      'with StackSets, set CreateRole=true in one region only.',
    Parameters: {
      ExternalId: {
        Type: 'String',
        MinLength: 16,
        AllowedPattern: '^[A-Za-z0-9+=,.@:/_-]+$',
        Description: 'The ExternalId dd0c/cost gave this account (it is in the quick-create link).',
      },
      Dd0cAccountId: {
        Type: 'String',
        AllowedPattern: '^[0-9]{12}$',
        Description: 'The AWS account dd0c/cost runs in: the only one trusted to assume the role.',
      },
      EventBusArn: {
        Type: 'String',
        AllowedPattern: '^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/.+$',
        Description: "dd0c/cost's event bus, where this account's CloudTrail calls are forwarded.",
      },
      RoleName: {
        Type: 'String',
        Default: c.customer.role_name,
        AllowedPattern: '^dd0c-cost-[A-Za-z0-9+=,.@_-]{1,54}$',
        Description: 'The read-only role (dd0c/cost may assume dd0c-cost-* roles only).',
      },
      CreateRole: {
        Type: 'String',
        AllowedValues: ['true', 'false'],
        Default: 'true',
        Description: 'Create the role here: true in exactly one region of the account.',
      },
      RemediationRoleName: {
        Type: 'String',
        Default: c.customer.remediation.role_name,
        AllowedPattern: `^${c.customer.remediation.role_name}[A-Za-z0-9+=,.@_-]{0,${64 - c.customer.remediation.role_name.length}}$`,
        Description: `The remediation role, when created (dd0c/cost acts through ${c.customer.remediation.role_name}* roles only).`,
      },
      CreateRemediationRole: {
        Type: 'String',
        AllowedValues: ['true', 'false'],
        Default: 'false',
        Description:
          'Also create a role that lets dd0c/cost stop, terminate or delete the resources you ' +
          `approve (never those tagged ${c.customer.remediation.protect_tag}); with CreateRole.`,
      },
    },
    Conditions: {
      CreateRole: { 'Fn::Equals': [{ Ref: 'CreateRole' }, 'true'] },
      CreateRemediationRole: {
        'Fn::And': [
          { Condition: 'CreateRole' },
          { 'Fn::Equals': [{ Ref: 'CreateRemediationRole' }, 'true'] },
        ],
      },
    },
    Resources: {
      ReadOnlyRole: {
        Type: 'AWS::IAM::Role',
        Condition: 'CreateRole',
        Properties: {
          RoleName: { Ref: 'RoleName' },
          Description: 'dd0c/cost reads what it prices and finds idle resources (read-only).',
          MaxSessionDuration: 3600,
          AssumeRolePolicyDocument: trustOurAccount,
          Policies: [
            {
              PolicyName: 'dd0c-cost-read-only',
              PolicyDocument: {
                Version: policyVersion,
                Statement: [
                  {
                    Sid: 'Dd0cCostReadOnly',
                    Effect: 'Allow',
                    // Describe and metric reads: these actions take no resource-level scoping.
                    Action: c.customer.read_actions,
                    Resource: '*',
                  },
                ],
              },
            },
          ],
        },
      },
      RemediationRole: {
        Type: 'AWS::IAM::Role',
        Condition: 'CreateRemediationRole',
        Properties: {
          RoleName: { Ref: 'RemediationRoleName' },
          Description:
            'dd0c/cost takes the remediations you approve (never on a resource tagged ' +
            `${c.customer.remediation.protect_tag}).`,
          MaxSessionDuration: 3600,
          AssumeRolePolicyDocument: trustOurAccount,
          Policies: [{ PolicyName: 'dd0c-cost-remediation', PolicyDocument: remediationPolicy(c) }],
        },
      },
      ForwardRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          Description: "Lets this region's rule put CloudTrail calls on dd0c/cost's bus.",
          AssumeRolePolicyDocument: {
            Version: policyVersion,
            Statement: [
              {
                Effect: 'Allow',
                Principal: { Service: 'events.amazonaws.com' },
                Action: 'sts:AssumeRole',
              },
            ],
          },
          Policies: [
            {
              PolicyName: 'dd0c-cost-forward',
              PolicyDocument: {
                Version: policyVersion,
                Statement: [
                  { Effect: 'Allow', Action: 'events:PutEvents', Resource: { Ref: 'EventBusArn' } },
                ],
              },
            },
          ],
        },
      },
      ForwardRule: {
        Type: 'AWS::Events::Rule',
        Properties: {
          Description: 'dd0c/cost: successful CloudTrail calls that can create cost.',
          State: 'ENABLED',
          EventPattern: c.customer.event_pattern,
          Targets: [
            {
              Id: 'dd0c-cost',
              Arn: { Ref: 'EventBusArn' },
              RoleArn: { 'Fn::GetAtt': ['ForwardRole', 'Arn'] },
            },
          ],
        },
      },
    },
    Outputs: {
      RoleArn: {
        Condition: 'CreateRole',
        Description: 'The role dd0c/cost assumes.',
        Value: { 'Fn::GetAtt': ['ReadOnlyRole', 'Arn'] },
      },
      RemediationRoleArn: {
        Condition: 'CreateRemediationRole',
        Description: 'The role dd0c/cost acts through (give it to dd0c/cost to enable remediation).',
        Value: { 'Fn::GetAtt': ['RemediationRole', 'Arn'] },
      },
      ForwardRuleArn: {
        Description: "This region's forwarding rule.",
        Value: { 'Fn::GetAtt': ['ForwardRule', 'Arn'] },
      },
    },
  };
}
