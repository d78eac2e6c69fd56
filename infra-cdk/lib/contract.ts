/**
 * What the Rust code says the stacks must agree with: `contract.json`, generated and checked by
 * `cargo test -p dd0c-lambda --test contract` (DD0C_BLESS=1 rewrites it).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Contract {
  table: {
    partition_key: string;
    sort_key: string;
    indexes: { name: string; partition_key: string; sort_key: string; projection: string }[];
    ttl_attribute: string;
    billing_mode: string;
  };
  max_receives: number;
  dashboard: {
    /** The policy `dd0c-cost serve` sends, `identity_provider` standing for the provider's origin. */
    content_security_policy: string;
    identity_provider: string;
  };
  ingest_group: string;
  customer: {
    stack_name: string;
    role_name: string;
    read_actions: string[];
    event_pattern: {
      'detail-type': string[];
      source: string[];
      detail: { eventName: (string | { prefix: string })[]; errorCode: unknown[] };
    };
    /** The opt-in role that acts on resources (`dd0c_ports::remediation`). */
    remediation: {
      role_name: string;
      /** Every IAM action of every remediation, sorted. */
      actions: string[];
      /** The calls that tag what they create: the only ones `ec2:CreateTags` is granted for. */
      tagging_calls: string[];
      /** A resource with this tag is never acted on. */
      protect_tag: string;
    };
  };
}

export const contract: Contract = JSON.parse(
  readFileSync(fileURLToPath(new URL('../contract.json', import.meta.url)), 'utf8'),
);
