/** The stack synthesized once for every test, with placeholder binaries. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { inject } from 'vitest';
import { App, Aspects } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Dd0cCostStack, FUNCTIONS } from '../lib/stack.js';

/** A new directory in the run's scratch directory (test/global.ts), which is removed at the end. */
export function scratch(prefix: string): string {
  return mkdtempSync(path.join(inject('scratch'), prefix));
}

/** A directory of `<binary>/bootstrap` placeholders, as `scripts/build-lambda.sh` lays out. */
export function placeholderBinaries(): string {
  const dir = scratch('lambda-');
  for (const name of FUNCTIONS) {
    mkdirSync(path.join(dir, name));
    writeFileSync(path.join(dir, name, 'bootstrap'), '#!/bin/sh\n');
  }
  return dir;
}

export function synthesize(): { stack: Dd0cCostStack; template: Template; outDir: string } {
  const outDir = scratch('cdk-');
  const app = new App({ outdir: outDir });
  const stack = new Dd0cCostStack(app, 'Dd0cCost', {
    lambdaDir: placeholderBinaries(),
    architecture: 'arm64',
    outDir,
  });
  Aspects.of(app).add(new AwsSolutionsChecks());
  app.synth();
  return { stack, template: Template.fromStack(stack), outDir };
}
