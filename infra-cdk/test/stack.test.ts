/**
 * The synthesized stack, item by item against the list and against what the Rust code
 * says (`contract.json`, the README's variable table).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { contract } from '../lib/contract.js';
import {
  BUS_SUFFIX,
  CUSTOMER_ROLES,
  Dd0cCostStack,
  FUNCTIONS,
  REMEDIATION_ROLES,
  type FunctionName,
} from '../lib/stack.js';
import { synthesize } from './fixtures.js';

let stack: Dd0cCostStack;
let template: Template;
let resources: Record<string, { Type: string; Properties?: any; Condition?: string }>;

beforeAll(() => {
  ({ stack, template } = synthesize());
  resources = template.toJSON().Resources;
});

const ofType = (type: string) =>
  Object.entries(resources).filter(([, r]) => r.Type === type);
const logicalId = (name: FunctionName) =>
  stack.getLogicalId(stack.functions[name].node.defaultChild as CfnFunction);
/** The logical id a `Ref` or `Fn::GetAtt` points at. */
const target = (value: any): string => value?.Ref ?? value?.['Fn::GetAtt']?.[0];

/** The README's Lambda variables: for each function, the variables it may have and must. */
function readmeVariables(): Record<FunctionName, { allowed: Set<string>; required: Set<string> }> {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  const section = readme.split('## Cloud: AWS Lambda')[1].split('\n## ')[0];
  const table = section.slice(section.indexOf('| variable | used by | default |'));
  const out = Object.fromEntries(
    FUNCTIONS.map((f) => [f, { allowed: new Set<string>(), required: new Set<string>() }]),
  ) as Record<FunctionName, { allowed: Set<string>; required: Set<string> }>;
  for (const row of table.split('\n').slice(2)) {
    if (!row.startsWith('|')) break;
    const [variable, usedBy, fallback] = row.split('|').slice(1, 4).map((c) => c.trim());
    const names = [...variable.matchAll(/`(DD0C_[A-Z_]+)`/g)].map((m) => m[1]);
    const users = usedBy.split(':')[0].split(',').map((u) => u.trim());
    const functions = users.flatMap((u): FunctionName[] =>
      u === 'all' ? [...FUNCTIONS]
      : u === 'SQS functions' ? ['lambda-ingest', 'lambda-score', 'lambda-notify', 'lambda-actions']
      : [`lambda-${u}` as FunctionName],
    );
    for (const f of functions) {
      expect(FUNCTIONS, `README row ${row}`).toContain(f);
      for (const name of names) {
        out[f].allowed.add(name);
        if (fallback.startsWith('required')) out[f].required.add(name);
      }
    }
  }
  return out;
}

describe('the table', () => {
  it('is the table adapters/aws defines, with point-in-time recovery and on-demand billing', () => {
    const t = contract.table;
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    const [, table] = ofType('AWS::DynamoDB::Table')[0];
    const props = table.Properties;
    expect(props.KeySchema).toEqual([
      { AttributeName: t.partition_key, KeyType: 'HASH' },
      { AttributeName: t.sort_key, KeyType: 'RANGE' },
    ]);
    expect(props.GlobalSecondaryIndexes).toEqual(
      t.indexes.map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.partition_key, KeyType: 'HASH' },
          { AttributeName: i.sort_key, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: i.projection },
      })),
    );
    const keys = [t.partition_key, t.sort_key, ...t.indexes.flatMap((i) => [i.partition_key, i.sort_key])];
    expect(props.AttributeDefinitions).toEqual(keys.map((k) => ({ AttributeName: k, AttributeType: 'S' })));
    expect(props.TimeToLiveSpecification).toEqual({ AttributeName: t.ttl_attribute, Enabled: true });
    expect(props.BillingMode).toBe(t.billing_mode);
    expect(props.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });
});

describe('queues and functions', () => {
  it('gives each of the four FIFO queues a FIFO dead-letter queue above DD0C_MAX_RECEIVES', () => {
    const queues = ofType('AWS::SQS::Queue');
    expect(queues).toHaveLength(8);
    const mains = queues.filter(([, q]) => q.Properties.RedrivePolicy);
    expect(mains).toHaveLength(4);
    for (const [, q] of mains) {
      expect(q.Properties.FifoQueue).toBe(true);
      expect(q.Properties.RedrivePolicy.maxReceiveCount).toBeGreaterThan(contract.max_receives);
      const dlq = resources[target(q.Properties.RedrivePolicy.deadLetterTargetArn)];
      expect(dlq.Type).toBe('AWS::SQS::Queue');
      expect(dlq.Properties.FifoQueue).toBe(true);
    }
  });

  it('feeds ingest, score, notify and actions from their queues with partial batch responses', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping');
    const fed = mappings.map(([, m]) => {
      expect(m.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      const queue = resources[target(m.Properties.EventSourceArn)];
      expect(queue.Properties.FifoQueue).toBe(true);
      return target(m.Properties.FunctionName);
    });
    expect(fed.sort()).toEqual(
      (['lambda-ingest', 'lambda-score', 'lambda-notify', 'lambda-actions'] as const).map(logicalId).sort(),
    );
  });

  it('runs each binary on provided.al2023 with JSON logs and exactly its README variables', () => {
    const readme = readmeVariables();
    for (const name of FUNCTIONS) {
      const f = resources[logicalId(name)].Properties;
      expect(f.Runtime).toBe('provided.al2023');
      expect(f.Handler).toBe('bootstrap');
      expect(f.Architectures).toEqual(['arm64']);
      expect(f.LoggingConfig.LogFormat).toBe('JSON');
      const variables = Object.keys(f.Environment.Variables);
      for (const v of variables) expect(readme[name].allowed, `${name}: ${v}`).toContain(v);
      for (const v of readme[name].required) expect(variables, `${name} needs ${v}`).toContain(v);
    }
  });

  it('points ingest at the score queue and score at the notify queue', () => {
    const env = (name: FunctionName) => resources[logicalId(name)].Properties.Environment.Variables;
    const queueOf = (url: any) => target(url);
    const scoreQueue = queueOf(env('lambda-ingest').DD0C_SCORE_QUEUE_URL);
    const notifyQueue = queueOf(env('lambda-score').DD0C_NOTIFY_QUEUE_URL);
    const fedBy = (queue: string) =>
      ofType('AWS::Lambda::EventSourceMapping').find(([, m]) => target(m.Properties.EventSourceArn) === queue)?.[1]
        .Properties.FunctionName;
    expect(target(fedBy(scoreQueue))).toBe(logicalId('lambda-score'));
    expect(target(fedBy(notifyQueue))).toBe(logicalId('lambda-notify'));
  });
});

/** The actions granted on any resource, and why. */
const WILDCARD_RESOURCES: Record<string, string> = {
  'cloudfront:CreateInvalidation': 'CDK\'s BucketDeployment handler invalidates the distribution after writing config.json',
  'cloudfront:GetInvalidation': 'and waits for that invalidation',
};

describe('least privilege', () => {
  const statements = () =>
    ofType('AWS::IAM::Policy').flatMap(([id, p]) =>
      p.Properties.PolicyDocument.Statement.map((s: any) => ({ id, roles: p.Properties.Roles, ...s })),
    );
  const list = (x: any) => (Array.isArray(x) ? x : [x]);

  it('grants no wildcard action, and a wildcard resource only where justified', () => {
    for (const s of statements()) {
      for (const action of list(s.Action)) {
        expect(action, s.id).not.toMatch(/^\*$|:\*$/);
      }
      if (list(s.Resource).includes('*')) {
        const unjustified = list(s.Action).filter((a: string) => !(a in WILDCARD_RESOURCES));
        expect(unjustified, `${s.id}: Resource *`).toEqual([]);
      }
    }
  });

  it('lets only the zombie hunter assume the customers\u2019 dd0c-cost-* roles, and only the API and the actions function their remediation roles', () => {
    const assume = statements().filter((s) => list(s.Action).includes('sts:AssumeRole'));
    const roleOf = (f: FunctionName) => target(resources[logicalId(f)].Properties.Role);
    const by = (resource: string) =>
      assume.filter((s) => s.Resource === resource).flatMap((s) => s.roles.map(target)).sort();
    expect(by(CUSTOMER_ROLES)).toEqual([roleOf('lambda-zombie')]);
    expect(by(REMEDIATION_ROLES)).toEqual([roleOf('lambda-api'), roleOf('lambda-actions')].sort());
    expect(assume.every((s) => [CUSTOMER_ROLES, REMEDIATION_ROLES].includes(s.Resource))).toBe(true);
  });

  it('feeds approved actions to the actions function, sent by the API and the hunter only', () => {
    const mapping = ofType('AWS::Lambda::EventSourceMapping').find(
      ([, m]) => target(m.Properties.FunctionName) === logicalId('lambda-actions'),
    )![1];
    const queue = target(mapping.Properties.EventSourceArn);
    expect(resources[queue].Properties.FifoQueue).toBe(true);
    const senders = statements()
      .filter((s) => list(s.Action).includes('sqs:SendMessage') && list(s.Resource).some((r: any) => target(r) === queue))
      .flatMap((s) => s.roles.map(target))
      .sort();
    expect(senders).toEqual(
      [target(resources[logicalId('lambda-api')].Properties.Role), target(resources[logicalId('lambda-zombie')].Properties.Role)].sort(),
    );
  });
});

describe('the customers\u2019 event bus', () => {
  it('admits the accounts or the organization given as parameters', () => {
    template.hasResourceProperties('AWS::Events::EventBus', {
      Name: { 'Fn::Join': ['', [{ Ref: 'AWS::StackName' }, BUS_SUFFIX]] },
    });
    const policies = ofType('AWS::Events::EventBusPolicy');
    expect(policies.map(([, p]) => p.Condition).sort()).toEqual([
      'HasCustomerAccounts',
      'HasCustomerOrganization',
    ]);
    template.hasParameter('CustomerAccounts', { Type: 'CommaDelimitedList' });
    template.hasParameter('CustomerOrganizationId', {});
  });

  it('sends the priced calls to the ingest queue in one message group', () => {
    const [, rule] = ofType('AWS::Events::Rule').find(([, r]) => r.Properties.EventBusName)!;
    expect(rule.Properties.EventPattern).toEqual(contract.customer.event_pattern);
    const [t] = rule.Properties.Targets;
    expect(t.SqsParameters).toEqual({ MessageGroupId: contract.ingest_group });
    // EventBridge's condition for a FIFO target.
    expect(resources[target(t.Arn)].Properties.ContentBasedDeduplication).toBe(true);
    const ingest = ofType('AWS::Lambda::EventSourceMapping').find(
      ([, m]) => target(m.Properties.FunctionName) === logicalId('lambda-ingest'),
    )![1];
    expect(target(t.Arn)).toBe(target(ingest.Properties.EventSourceArn));
  });
});

describe('schedules', () => {
  it('runs the notify backstop every minute, digests every 15 minutes, the hunt and the catalog update daily', () => {
    const scheduled = Object.fromEntries(
      ofType('AWS::Events::Rule')
        .filter(([, r]) => r.Properties.ScheduleExpression)
        .map(([, r]) => [target(r.Properties.Targets[0].Arn), r.Properties.ScheduleExpression]),
    );
    expect(scheduled).toEqual({
      [logicalId('lambda-notify')]: 'rate(1 minute)',
      [logicalId('lambda-digest')]: 'rate(15 minutes)',
      [logicalId('lambda-zombie')]: 'cron(0 6 * * ? *)',
      [logicalId('lambda-catalog')]: 'cron(0 5 * * ? *)',
    });
  });
});

describe('API, sign-in and dashboard', () => {
  it('routes every path of the HTTP API to lambda-api', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'ANY /{proxy+}' });
    const [, integration] = ofType('AWS::ApiGatewayV2::Integration')[0];
    expect(JSON.stringify(integration.Properties.IntegrationUri)).toContain(logicalId('lambda-api'));
  });

  it('has a user pool with the tenant attribute, admin and member groups, a PKCE client and a hosted UI', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      Schema: Match.arrayWith([Match.objectLike({ Name: 'tenant', Mutable: false })]),
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
    });
    expect(ofType('AWS::Cognito::UserPoolGroup').map(([, g]) => g.Properties.GroupName).sort()).toEqual([
      'admin',
      'member',
    ]);
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
    });
    template.resourceCountIs('AWS::Cognito::UserPoolDomain', 1);
  });

  it('serves the dashboard from a private bucket through CloudFront with origin access control, the API on the same origin', () => {
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    const [, distribution] = ofType('AWS::CloudFront::Distribution')[0];
    const config = distribution.Properties.DistributionConfig;
    expect(config.CacheBehaviors.map((b: any) => b.PathPattern)).toEqual(['/v1/*']);
    // config.json is filled in at deploy time from the hosted UI domain, the client and the
    // distribution's domain.
    const files = JSON.stringify(ofType('Custom::CDKBucketDeployment')[0][1].Properties.SourceMarkers);
    for (const [id, r] of Object.entries(resources)) {
      if (['AWS::Cognito::UserPoolDomain', 'AWS::CloudFront::Distribution', 'AWS::Cognito::UserPoolClient'].includes(r.Type)) {
        expect(files, r.Type).toContain(id);
      }
    }
  });

  it('sends the dashboard the Content-Security-Policy dd0c-cost serve sends, naming the hosted UI', () => {
    const [, distribution] = ofType('AWS::CloudFront::Distribution')[0];
    const policyId = distribution.Properties.DistributionConfig.DefaultCacheBehavior.ResponseHeadersPolicyId.Ref;
    const headers = resources[policyId].Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const csp = JSON.stringify(headers.ContentSecurityPolicy.ContentSecurityPolicy);
    const [before] = contract.dashboard.content_security_policy.split(contract.dashboard.identity_provider);
    expect(csp).toContain(before);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain(contract.dashboard.identity_provider);
    expect(csp).toContain(ofType('AWS::Cognito::UserPoolDomain')[0][0]);
    expect(headers.FrameOptions.FrameOption).toBe('DENY');
  });

  it('gives lambda-api the customer template and the bus for quick-create links', () => {
    const env = resources[logicalId('lambda-api')].Properties.Environment.Variables;
    expect(target(env.DD0C_EVENT_BUS_ARN)).toBe(
      ofType('AWS::Events::EventBus')[0][0],
    );
    expect(JSON.stringify(env.DD0C_ONBOARDING_TEMPLATE_URL)).toContain('https://s3.');
  });

  it('gives lambda-api the Slack signing secret from a parameter that is never echoed', () => {
    const env = resources[logicalId('lambda-api')].Properties.Environment.Variables;
    expect(env.DD0C_SLACK_SIGNING_SECRET).toEqual({ Ref: 'SlackSigningSecret' });
    const parameter = template.toJSON().Parameters.SlackSigningSecret;
    expect(parameter.NoEcho).toBe(true);
    expect(parameter.Default).toBe('');
  });
});

describe('archive and alarms', () => {
  it('keeps the raw archive encrypted, private, and for a limited time', () => {
    const archive = resources[target(resources[logicalId('lambda-ingest')].Properties.Environment.Variables.DD0C_ARCHIVE_BUCKET)];
    expect(archive.Properties.BucketEncryption).toBeDefined();
    expect(archive.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(archive.Properties.LifecycleConfiguration.Rules[0].ExpirationInDays).toEqual({
      Ref: 'ArchiveRetentionDays',
    });
    expect(archive.Properties.LifecycleConfiguration.Rules[0].Prefix).toBe('raw/');
  });

  it('lets only lambda-catalog write the price catalog, and what prices read it', () => {
    const catalogFn = resources[logicalId('lambda-catalog')].Properties;
    expect(catalogFn.MemorySize).toBe(3008);
    expect(catalogFn.Timeout).toBe(900);
    const statements = ofType('AWS::IAM::Policy').flatMap(([, p]) =>
      p.Properties.PolicyDocument.Statement.map((st: { Action: string | string[]; Resource: unknown }) => ({
        roles: p.Properties.Roles.map((r: { Ref: string }) => r.Ref),
        actions: [st.Action].flat(),
        resource: JSON.stringify(st.Resource),
      })),
    );
    const roleOfFn = (name: FunctionName) => target(resources[logicalId(name)].Properties.Role);
    const writers = statements
      .filter((st) => st.actions.includes('s3:PutObject') && st.resource.includes('catalog/aws-price-catalog.json'))
      .flatMap((st) => st.roles);
    expect(writers).toEqual([roleOfFn('lambda-catalog')]);
    const readers = statements
      .filter((st) => st.actions.includes('s3:GetObject*') && st.resource.includes('catalog/aws-price-catalog.json'))
      .flatMap((st) => st.roles)
      .sort();
    const reading: FunctionName[] = ['lambda-ingest', 'lambda-zombie', 'lambda-api', 'lambda-catalog'];
    expect(readers).toEqual(reading.map(roleOfFn).sort());
    const tableReaders = statements.filter((st) => st.actions.includes('dynamodb:GetItem')).flatMap((st) => st.roles);
    expect(tableReaders).not.toContain(roleOfFn('lambda-catalog'));
  });

  it('alarms on dead letters, function errors and ingest age, to one SNS topic', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const metric = (name: string) => alarms.filter((a) => a.MetricName === name);
    const deadLetterQueues = ofType('AWS::SQS::Queue').filter(([, q]) => !q.Properties.RedrivePolicy);
    expect(metric('ApproximateNumberOfMessagesVisible')).toHaveLength(deadLetterQueues.length);
    expect(metric('Errors')).toHaveLength(FUNCTIONS.length);
    expect(metric('ApproximateAgeOfOldestMessage')).toHaveLength(1);
    const topic = ofType('AWS::SNS::Topic')[0][0];
    for (const a of alarms) expect(a.AlarmActions.map(target)).toEqual([topic]);
  });
});

describe('cdk-nag', () => {
  it('finds nothing unsuppressed under the AWS Solutions rules', () => {
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${e.entry.data}`)).toEqual([]);
    expect(warnings.map((e) => `${e.id}: ${e.entry.data}`)).toEqual([]);
  });
});
