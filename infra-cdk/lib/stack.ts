/**
 * The cloud mode of dd0c/cost in one stack. In the order data flows:
 *
 * 1. customers' CloudTrail calls arrive on a custom event bus (admitting the accounts or the
 *    organization given as parameters); one rule sends them to the ingest queue in one message
 *    group — `lambda-ingest` finds each event's tenant by its account, so connecting an account
 *    of the admitted organization changes nothing here, and one outside it is one more value of
 *    `CustomerAccounts` (`update-stack --use-previous-template`, no deploy);
 * 2. SQS FIFO queues (ingest, score, notify wake-ups, approved actions), each with a FIFO
 *    dead-letter queue, feed one Lambda each with partial batch responses;
 * 3. the single DynamoDB table, shaped as `adapters/aws` defines it (`contract.json`);
 * 4. schedules: the notify backstop every minute, digests every 15 minutes, the zombie hunt and
 *    the price catalog's update from AWS's Price List daily;
 * 5. the HTTP API → `lambda-api`, behind the dashboard's CloudFront distribution (one origin),
 *    Cognito for sign-in (authorization code + PKCE, hosted UI);
 * 6. the raw archive bucket (which also keeps the price catalog the functions price with), and
 *    alarms to an SNS topic.
 *
 * Lambda code comes from `lambdaDir/<binary>/bootstrap` (`scripts/build-lambda.sh`), built for
 * the `architecture` context value.
 */
import * as path from 'node:path';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import {
  Aws,
  CfnCondition,
  CfnOutput,
  CfnParameter,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  type StackProps,
} from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { NagSuppressions } from 'cdk-nag';

import { contract } from './contract.js';
import { customerTemplate } from './customer-template.js';

/** The Lambda binaries, as `runtime-lambda/src/bin/` names them. */
export const FUNCTIONS = [
  'lambda-ingest',
  'lambda-score',
  'lambda-notify',
  'lambda-digest',
  'lambda-zombie',
  'lambda-actions',
  'lambda-api',
  'lambda-catalog',
] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/** Where the price catalog lives in the archive bucket (`dd0c_ingest::catalog::refresh::ARCHIVE_KEY`). */
export const CATALOG_KEY = 'catalog/aws-price-catalog.json';

/** The customer roles' name pattern, the only roles the zombie hunter may assume. */
export const CUSTOMER_ROLES = 'arn:aws:iam::*:role/dd0c-cost-*';

/** The customers' remediation roles, the only roles the API and the actions function may
 * assume (the customer template names them so). */
export const REMEDIATION_ROLES = `arn:aws:iam::*:role/${contract.customer.remediation.role_name}*`;

/** The name of the event bus customers' rules forward to, after the stack's. */
export const BUS_SUFFIX = '-customers';

export interface Dd0cCostProps extends StackProps {
  /** Where `<binary>/bootstrap` are (`scripts/build-lambda.sh`). */
  lambdaDir: string;
  /** `x86_64` or `arm64`: what the binaries were built for. */
  architecture: string;
  /** The dashboard's built files (`dashboard/dist`), when there are any. */
  dashboardDir?: string;
  /** Where the customer's template is written before it is uploaded. */
  outDir: string;
}

export class Dd0cCostStack extends Stack {
  readonly functions = {} as Record<FunctionName, lambda.Function>;

  constructor(scope: Construct, id: string, props: Dd0cCostProps) {
    super(scope, id, props);
    const p = this.parameters();

    // 3. The table.
    const t = contract.table;
    const table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: t.partition_key, type: dynamodb.AttributeType.STRING },
      sortKey: { name: t.sort_key, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: t.ttl_attribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of t.indexes) {
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partition_key, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sort_key, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }

    // 2. Queues, each with its FIFO dead-letter queue: the functions dead-letter a message
    // themselves on its DD0C_MAX_RECEIVES-th delivery; SQS's redrive is the backstop above it.
    const queue = (name: string, contentBasedDeduplication = false) => {
      // Named (CloudFormation would add `.fifo` to a generated name, moto does not).
      const deadLetters = new sqs.Queue(this, `${name}DeadLetters`, {
        queueName: `${Aws.STACK_NAME}-${name.toLowerCase()}-dead-letters.fifo`,
        fifo: true,
        retentionPeriod: Duration.days(14),
        enforceSSL: true,
        encryption: sqs.QueueEncryption.SQS_MANAGED,
      });
      const main = new sqs.Queue(this, `${name}Queue`, {
        queueName: `${Aws.STACK_NAME}-${name.toLowerCase()}.fifo`,
        fifo: true,
        contentBasedDeduplication,
        // Six times the function timeout, as Lambda's SQS guidance asks.
        visibilityTimeout: Duration.minutes(6),
        enforceSSL: true,
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        deadLetterQueue: { queue: deadLetters, maxReceiveCount: contract.max_receives + 2 },
      });
      return { main, deadLetters };
    };
    // EventBridge sends to a FIFO queue only with content-based deduplication: a redelivered
    // event is the same body (its id included), so it is still deduplicated.
    const ingestQueue = queue('Ingest', true);
    const scoreQueue = queue('Score');
    const notifyQueue = queue('Notify');
    const actionsQueue = queue('Actions');

    // 6. The raw archive.
    const archive = new s3.Bucket(this, 'Archive', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // Raw records expire; the price catalog beside them does not.
      lifecycleRules: [{ prefix: 'raw/', expiration: Duration.days(p.archiveDays.valueAsNumber) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // 1. The customers' bus and its one rule.
    const busName = `${Aws.STACK_NAME}${BUS_SUFFIX}`;
    const bus = new events.EventBus(this, 'CustomerBus', { eventBusName: busName });
    this.admitCustomers(bus, p);
    const toIngest = new events.Rule(this, 'CloudTrailToIngest', {
      eventBus: bus,
      description: 'Customers\u2019 CloudTrail calls that can create cost, to the ingest queue',
      eventPattern: {
        detailType: contract.customer.event_pattern['detail-type'],
        source: contract.customer.event_pattern.source,
        detail: contract.customer.event_pattern.detail,
      },
      targets: [new targets.SqsQueue(ingestQueue.main, { messageGroupId: contract.ingest_group })],
    });
    // The bus by its fixed name rather than a Ref: the same to CloudFormation, and what moto's
    // emulation of a rule on a custom bus understands.
    (toIngest.node.defaultChild as events.CfnRule).eventBusName = busName;
    toIngest.node.addDependency(bus);

    // 5. Sign-in.
    const pool = new cognito.UserPool(this, 'Users', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      customAttributes: {
        tenant: new cognito.StringAttribute({ mutable: false, minLen: 1, maxLen: 64 }),
        role: new cognito.StringAttribute({ mutable: true, minLen: 1, maxLen: 16 }),
      },
      passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { sms: false, otp: true },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const group of ['admin', 'member']) {
      new cognito.CfnUserPoolGroup(this, `Group${group}`, {
        userPoolId: pool.userPoolId,
        groupName: group,
        description: `dd0c/cost ${group}s`,
      });
    }
    const domain = pool.addDomain('HostedUi', {
      cognitoDomain: { domainPrefix: p.authDomainPrefix.valueAsString },
    });

    // 5. The dashboard and the API on one origin.
    const site = new s3.Bucket(this, 'Dashboard', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
    });
    const httpApi = new apigw.HttpApi(this, 'Api', { description: 'dd0c/cost API (lambda-api)' });
    const hostedUi = `https://${domain.domainName}.auth.${this.region}.amazoncognito.com`;
    const headers = new cloudfront.ResponseHeadersPolicy(this, 'DashboardHeaders', {
      comment: 'dd0c/cost dashboard: the Content-Security-Policy dd0c-cost serve sends',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: contract.dashboard.content_security_policy.replace(
            contract.dashboard.identity_provider,
            hostedUi,
          ),
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
      },
    });
    const distribution = new cloudfront.Distribution(this, 'Site', {
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(site),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: headers,
      },
      additionalBehaviors: {
        '/v1/*': {
          origin: new origins.HttpOrigin(Fn.select(2, Fn.split('/', httpApi.apiEndpoint))),
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        },
      },
      errorResponses: [
        // The single-page app's own routes.
        { httpStatus: 403, responseHttpStatus: 200, responsePagePath: '/index.html' },
        { httpStatus: 404, responseHttpStatus: 200, responsePagePath: '/index.html' },
      ],
    });
    const siteUrl = `https://${distribution.distributionDomainName}`;
    const client = pool.addClient('Dashboard', {
      generateSecret: false,
      authFlows: { userSrp: true },
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: [`${siteUrl}/`],
        logoutUrls: [`${siteUrl}/`],
      },
      preventUserExistenceErrors: true,
    });

    // The customer's template, uploaded where the quick-create link points.
    mkdirSync(props.outDir, { recursive: true });
    const templateFile = path.join(props.outDir, 'customer.template.json');
    writeFileSync(templateFile, JSON.stringify(customerTemplate(), null, 2) + '\n');
    const template = new Asset(this, 'CustomerTemplate', { path: templateFile });

    // 2. The functions.
    const common = { DD0C_TABLE_NAME: table.tableName, DD0C_LOG: 'info' };
    const sqsFunction = { DD0C_MAX_RECEIVES: String(contract.max_receives) };
    const mail = { DD0C_MAIL_FROM: p.mailFrom.valueAsString };
    const ingest = this.lambda(props, 'lambda-ingest', {
      ...common,
      ...sqsFunction,
      DD0C_SCORE_QUEUE_URL: scoreQueue.main.queueUrl,
      DD0C_ARCHIVE_BUCKET: archive.bucketName,
    });
    const score = this.lambda(props, 'lambda-score', {
      ...common,
      ...sqsFunction,
      DD0C_NOTIFY_QUEUE_URL: notifyQueue.main.queueUrl,
    });
    // Alerts link to the anomaly's page on the dashboard.
    const notify = this.lambda(props, 'lambda-notify', {
      ...common,
      ...sqsFunction,
      ...mail,
      DD0C_DASHBOARD_URL: siteUrl,
    });
    const digest = this.lambda(props, 'lambda-digest', { ...common, ...mail });
    // The hunter requests what auto mode takes after each scan, onto the actions queue.
    const actionsQueueUrl = { DD0C_ACTIONS_QUEUE_URL: actionsQueue.main.queueUrl };
    // What prices reads the catalog the daily update keeps in the archive (the bundled one
    // until then).
    const catalogBucket = { DD0C_ARCHIVE_BUCKET: archive.bucketName };
    const zombie = this.lambda(
      props,
      'lambda-zombie',
      { ...common, ...actionsQueueUrl, ...catalogBucket },
      Duration.minutes(15),
    );
    // Offer files run to hundreds of megabytes a region: memory and time to read them all.
    const catalog = this.lambda(
      props,
      'lambda-catalog',
      { ...common, ...catalogBucket },
      Duration.minutes(15),
      3008,
    );
    const actions = this.lambda(props, 'lambda-actions', {
      ...common,
      ...sqsFunction,
      ...actionsQueueUrl,
    });
    // The API sends test alerts on a tenant's channels, so it mails too. (It links nowhere: the
    // distribution's address would make the API depend on itself.)
    const api = this.lambda(props, 'lambda-api', {
      ...common,
      ...mail,
      DD0C_COGNITO_ISSUER: pool.userPoolProviderUrl,
      DD0C_COGNITO_CLIENT_ID: client.userPoolClientId,
      // The pool's custom:tenant is in its ID tokens (access tokens would need a trigger).
      DD0C_COGNITO_TOKEN_USE: 'id',
      DD0C_ONBOARDING_TEMPLATE_URL: template.httpUrl,
      DD0C_EVENT_BUS_ARN: bus.eventBusArn,
      // The Slack app's signing secret: with it the alert buttons act; empty, they answer 404.
      DD0C_SLACK_SIGNING_SECRET: p.slackSigningSecret.valueAsString,
      ...actionsQueueUrl,
      ...catalogBucket,
    });

    // Least privilege: the table for all; each queue to its consumer (and its own dead-letter
    // queue, where the function moves a message that keeps failing); the archive to ingest.
    // (lambda-catalog reads the Price List and writes the archive: no table.)
    for (const f of Object.values(this.functions)) {
      if (f !== catalog) table.grantReadWriteData(f);
    }
    const consume = (f: lambda.Function, q: { main: sqs.Queue; deadLetters: sqs.Queue }) => {
      f.addEventSource(
        new SqsEventSource(q.main, { batchSize: 10, reportBatchItemFailures: true }),
      );
      q.deadLetters.grantSendMessages(f);
    };
    consume(ingest, ingestQueue);
    consume(score, scoreQueue);
    consume(notify, notifyQueue);
    consume(actions, actionsQueue);
    actionsQueue.main.grantSendMessages(api);
    actionsQueue.main.grantSendMessages(zombie);
    scoreQueue.main.grantSendMessages(ingest);
    notifyQueue.main.grantSendMessages(score);
    archive.grantPut(ingest);
    archive.grantPut(catalog, CATALOG_KEY);
    for (const f of [ingest, zombie, api, catalog]) archive.grantRead(f, CATALOG_KEY);
    const assumeCustomerRoles = new iam.PolicyStatement({
      actions: ['sts:AssumeRole'],
      resources: [CUSTOMER_ROLES],
    });
    zombie.addToRolePolicy(assumeCustomerRoles);
    // Requests are dry-run by the API, runs by the actions function: the remediation roles only.
    const assumeRemediationRoles = new iam.PolicyStatement({
      actions: ['sts:AssumeRole'],
      resources: [REMEDIATION_ROLES],
    });
    for (const f of [api, actions]) f.addToRolePolicy(assumeRemediationRoles);
    const sendMail = new iam.PolicyStatement({
      actions: ['ses:SendEmail', 'ses:SendRawEmail'],
      resources: [
        Fn.sub('arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${Domain}', {
          Domain: Fn.select(1, Fn.split('@', p.mailFrom.valueAsString)),
        }),
      ],
    });
    for (const f of [notify, digest, api]) f.addToRolePolicy(sendMail);

    // 4. Schedules.
    const schedule = (id: string, rate: events.Schedule, f: lambda.Function) =>
      new events.Rule(this, id, { schedule: rate, targets: [new targets.LambdaFunction(f)] });
    schedule('NotifyBackstop', events.Schedule.rate(Duration.minutes(1)), notify);
    schedule('Digests', events.Schedule.rate(Duration.minutes(15)), digest);
    schedule('ZombieHunt', events.Schedule.cron({ minute: '0', hour: '6' }), zombie);
    schedule('CatalogUpdate', events.Schedule.cron({ minute: '0', hour: '5' }), catalog);

    // 5. Every route to lambda-api.
    httpApi.addRoutes({
      path: '/{proxy+}',
      methods: [apigw.HttpMethod.ANY],
      integration: new HttpLambdaIntegration('ApiIntegration', api),
    });

    // The dashboard's runtime configuration (one build serves both modes), and its files.
    const config = {
      mode: 'cloud',
      api: '',
      cognito: {
        domain: hostedUi,
        client_id: client.userPoolClientId,
        redirect_uri: `${siteUrl}/`,
      },
    };
    const sources = [s3deploy.Source.jsonData('config.json', config)];
    if (props.dashboardDir && existsSync(props.dashboardDir)) {
      sources.unshift(s3deploy.Source.asset(props.dashboardDir));
    }
    new s3deploy.BucketDeployment(this, 'DashboardFiles', {
      destinationBucket: site,
      sources,
      distribution,
      prune: false,
    });

    // 6. Alarms.
    this.alarms(p, [ingestQueue, scoreQueue, notifyQueue, actionsQueue], ingestQueue.main);

    const outputs: Record<string, string> = {
      TableName: table.tableName,
      IngestQueueUrl: ingestQueue.main.queueUrl,
      ScoreQueueUrl: scoreQueue.main.queueUrl,
      NotifyQueueUrl: notifyQueue.main.queueUrl,
      ActionsQueueUrl: actionsQueue.main.queueUrl,
      ArchiveBucket: archive.bucketName,
      EventBusArn: bus.eventBusArn,
      ApiUrl: httpApi.apiEndpoint,
      DashboardUrl: siteUrl,
      UserPoolId: pool.userPoolId,
      UserPoolClientId: client.userPoolClientId,
      CustomerTemplateUrl: template.httpUrl,
    };
    for (const [name, value] of Object.entries(outputs)) new CfnOutput(this, name, { value });
    this.suppressions();
  }

  private parameters() {
    return {
      mailFrom: new CfnParameter(this, 'MailFrom', {
        description: 'The SES-verified sender of alerts and digests (alerts@example.com)',
        allowedPattern: '^[^@\\s]+@[^@\\s]+$',
      }),
      customerAccounts: new CfnParameter(this, 'CustomerAccounts', {
        type: 'CommaDelimitedList',
        default: '',
        description: 'AWS accounts whose rules may put events on the customer bus',
      }),
      customerOrganization: new CfnParameter(this, 'CustomerOrganizationId', {
        default: '',
        allowedPattern: '^(o-[a-z0-9]{10,32})?$',
        description: 'An AWS Organization whose accounts may put events on the customer bus',
      }),
      authDomainPrefix: new CfnParameter(this, 'AuthDomainPrefix', {
        allowedPattern: '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$',
        description: 'The Cognito hosted UI domain prefix (unique in the region)',
      }),
      alarmEmail: new CfnParameter(this, 'AlarmEmail', {
        default: '',
        description: 'Where alarms are e-mailed (empty: subscribe to the topic yourself)',
      }),
      slackSigningSecret: new CfnParameter(this, 'SlackSigningSecret', {
        default: '',
        noEcho: true,
        description: "The Slack app's signing secret, for the alert buttons (empty: no buttons act)",
      }),
      archiveDays: new CfnParameter(this, 'ArchiveRetentionDays', {
        type: 'Number',
        default: 90,
        minValue: 1,
        description: 'Days raw CloudTrail events are kept in the archive',
      }),
    };
  }

  /** The customer bus admits the listed accounts and, when given, the organization. */
  private admitCustomers(bus: events.EventBus, p: ReturnType<Dd0cCostStack['parameters']>) {
    const hasAccounts = new CfnCondition(this, 'HasCustomerAccounts', {
      expression: Fn.conditionNot(
        Fn.conditionEquals(Fn.join('', p.customerAccounts.valueAsList), ''),
      ),
    });
    const hasOrganization = new CfnCondition(this, 'HasCustomerOrganization', {
      expression: Fn.conditionNot(Fn.conditionEquals(p.customerOrganization.valueAsString, '')),
    });
    const accounts = new events.CfnEventBusPolicy(this, 'AdmitAccounts', {
      eventBusName: bus.eventBusName,
      statementId: 'dd0c-cost-customer-accounts',
      statement: {
        Effect: 'Allow',
        Principal: { AWS: p.customerAccounts.valueAsList },
        Action: 'events:PutEvents',
        Resource: bus.eventBusArn,
      },
    });
    accounts.cfnOptions.condition = hasAccounts;
    const organization = new events.CfnEventBusPolicy(this, 'AdmitOrganization', {
      eventBusName: bus.eventBusName,
      statementId: 'dd0c-cost-customer-organization',
      statement: {
        Effect: 'Allow',
        Principal: '*',
        Action: 'events:PutEvents',
        Resource: bus.eventBusArn,
        Condition: { StringEquals: { 'aws:PrincipalOrgID': p.customerOrganization.valueAsString } },
      },
    });
    organization.cfnOptions.condition = hasOrganization;
  }

  /** One function: `provided.al2023`, JSON logs, a log group kept a month. */
  private lambda(
    props: Dd0cCostProps,
    name: FunctionName,
    environment: Record<string, string>,
    timeout: Duration = Duration.minutes(1),
    memorySize = 256,
  ): lambda.Function {
    const f = new lambda.Function(this, name, {
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture:
        props.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(path.join(props.lambdaDir, name)),
      memorySize,
      timeout,
      environment,
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup: new logs.LogGroup(this, `${name}Logs`, {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    this.functions[name] = f;
    return f;
  }

  private alarms(
    p: ReturnType<Dd0cCostStack['parameters']>,
    queues: { main: sqs.Queue; deadLetters: sqs.Queue }[],
    ingest: sqs.Queue,
  ) {
    const topic = new sns.Topic(this, 'Alarms', { enforceSSL: true });
    const emailed = new CfnCondition(this, 'HasAlarmEmail', {
      expression: Fn.conditionNot(Fn.conditionEquals(p.alarmEmail.valueAsString, '')),
    });
    topic.addSubscription(new subscriptions.EmailSubscription(p.alarmEmail.valueAsString));
    for (const child of topic.node.children) {
      const resource = child.node.defaultChild ?? child;
      if (resource instanceof sns.CfnSubscription) resource.cfnOptions.condition = emailed;
    }
    const action = new cwActions.SnsAction(topic);
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, what: string) =>
      new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: what,
      }).addAlarmAction(action);
    queues.forEach((q, i) =>
      alarm(
        `DeadLetters${i}`,
        q.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
        1,
        'Messages were dead-lettered: dd0c-cost dlq list shows them with their errors',
      ),
    );
    for (const [name, f] of Object.entries(this.functions)) {
      alarm(`${name}Errors`, f.metricErrors({ period: Duration.minutes(5) }), 1, `${name} failed`);
    }
    alarm(
      'IngestAge',
      ingest.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5) }),
      300,
      'CloudTrail events wait more than five minutes to be ingested',
    );
  }

  /** Each cdk-nag finding left as is, with why. */
  private suppressions() {
    NagSuppressions.addStackSuppressions(this, [
      { id: 'AwsSolutions-IAM4', reason: 'AWSLambdaBasicExecutionRole (CloudWatch Logs only) for the functions and the CDK-provided deployment handlers.' },
      { id: 'AwsSolutions-IAM5', reason: 'Wildcards are the table\u2019s index/* (GSI1 queries), the archive\u2019s object keys, the customer roles\u2019 name pattern dd0c-cost-* in any customer account, and the CDK deployment handler\u2019s asset bucket.' },
      { id: 'AwsSolutions-L1', reason: 'The functions run provided.al2023, the latest OS-only runtime; the flagged one is the CDK BucketDeployment handler, whose runtime CDK chooses.' },
      { id: 'AwsSolutions-S1', reason: 'Server access logs would need a log bucket per bucket; CloudTrail data events cover access where wanted.' },
      { id: 'AwsSolutions-SQS3', reason: 'The flagged queues are the dead-letter queues themselves.' },
      { id: 'AwsSolutions-SNS2', reason: 'Alarm notifications carry no customer data; SSE-KMS would add a key to manage.' },
      { id: 'AwsSolutions-COG2', reason: 'MFA is optional (TOTP) so an organization can require it through its own IdP policy.' },
      { id: 'AwsSolutions-COG8', reason: 'The Plus feature plan (threat protection) is a paid add-on, left to the operator.' },
      { id: 'AwsSolutions-COG3', reason: 'Cognito advanced security (threat protection) is a paid add-on, left to the operator.' },
      { id: 'AwsSolutions-APIG1', reason: 'API access logs: left to the operator (CloudFront and Lambda logs record each request).' },
      { id: 'AwsSolutions-APIG4', reason: 'lambda-api verifies Cognito tokens itself on every route but the public ones (/healthz, /openapi.json, Slack\u2019s signed actions).' },
      { id: 'AwsSolutions-CFR1', reason: 'No geo restriction: customers are anywhere.' },
      { id: 'AwsSolutions-CFR2', reason: 'AWS WAF is a paid add-on, left to the operator.' },
      { id: 'AwsSolutions-CFR3', reason: 'CloudFront access logs need a log bucket with ACLs; left to the operator.' },
      { id: 'AwsSolutions-CFR4', reason: 'The default CloudFront certificate; a custom domain brings its own with TLS 1.2.' },
    ]);
  }
}
