/**
 * One scratch directory for a run of the tests, removed when it ends: synthesized stacks and
 * placeholder binaries go under it (`scratch` in fixtures.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    scratch: string;
  }
}

export default function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(tmpdir(), 'dd0c-cdk-test-'));
  project.provide('scratch', dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
