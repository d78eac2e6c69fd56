/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy` with the stack's parameters. Context:
 * `lambdaDir` (the binaries, `scripts/build-lambda.sh`), `architecture` (`x86_64` or `arm64`),
 * `dashboardDir` (the dashboard's build, when there is one). cdk-nag's AWS Solutions rules run
 * on every synth.
 */
import * as path from 'node:path';
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Dd0cCostStack } from '../lib/stack.js';

const app = new App();
const context = (key: string, fallback: string) => String(app.node.tryGetContext(key) ?? fallback);
new Dd0cCostStack(app, 'Dd0cCost', {
  lambdaDir: path.resolve(context('lambdaDir', '../target/lambda')),
  architecture: context('architecture', 'x86_64'),
  dashboardDir: path.resolve(context('dashboardDir', '../dashboard/dist')),
  outDir: path.resolve(app.outdir),
  description: 'dd0c/cost: CloudTrail-time AWS cost anomaly detection (cloud mode)',
});
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
