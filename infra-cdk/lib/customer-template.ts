/**
 * The customer's CloudFormation template, built from the contract: the read-only role dd0c/cost
 * assumes (trusted by our account, only with the account's ExternalId) and, in the region the
 * stack is created in, a rule forwarding the CloudTrail calls that create cost to our event bus.
 *
 * One click: `POST /v1/accounts` answers with a quick-create link filling every parameter.
 * Several regions or accounts: deploy it as a StackSet (service-managed across an organization)
 * to each region to watch, with `CreateRole=true` in one region only (IAM is global).
 */
import { contract as bundled, type Contract } from './contract.js';

const policyVersion = '2012-10-17';

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
    },
    Conditions: {
      CreateRole: { 'Fn::Equals': [{ Ref: 'CreateRole' }, 'true'] },
    },
    Resources: {
      ReadOnlyRole: {
        Type: 'AWS::IAM::Role',
        Condition: 'CreateRole',
        Properties: {
          RoleName: { Ref: 'RoleName' },
          Description: 'dd0c/cost reads what it prices and finds idle resources (read-only).',
          MaxSessionDuration: 3600,
          AssumeRolePolicyDocument: {
            Version: policyVersion,
            Statement: [
              {
                Effect: 'Allow',
                Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${Dd0cAccountId}:root' } },
                Action: 'sts:AssumeRole',
                Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } } },
              },
            ],
          },
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
      ForwardRuleArn: {
        Description: "This region's forwarding rule.",
        Value: { 'Fn::GetAtt': ['ForwardRule', 'Arn'] },
      },
    },
  };
}
