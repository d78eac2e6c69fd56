/**
 * Data the end-to-end tests plant directly, where no test-sized path makes it: zombie findings
 * (ids of `Finding::id_for`'s shape, `zf_` and 24 hex digits).
 */

interface Planted {
  id: string;
  resource: string;
  type: string;
  waste: number;
}

export const ZOMBIES: Planted[] = [
  { id: 'zf_e2e000000000000000000001', resource: 'i-0e2e000000000001', type: 'm5.4xlarge', waste: 560.64 },
  { id: 'zf_e2e000000000000000000002', resource: 'i-0e2e000000000002', type: 'm5.large', waste: 70.08 },
];

/** SQL planting [`ZOMBIES`] as open, idle EC2 findings of `tenant` in `account`. */
export function zombieSql(tenant: string, account: string): string {
  const now = new Date();
  const since = new Date(now.getTime() - 14 * 86_400_000);
  const rows = ZOMBIES.map((z) => {
    const finding = {
      finding_id: z.id,
      tenant,
      account_id: account,
      region: 'us-east-1',
      kind: 'ec2.idle',
      resource_id: z.resource,
      resource_arn: `arn:aws:ec2:us-east-1:${account}:instance/${z.resource}`,
      resource_type: z.type,
      state: 'idle',
      monthly_waste_usd: z.waste,
      evidence: [
        { metric: 'AWS/EC2 CPUUtilization', statistic: 'Maximum', period_seconds: 86400, days_evaluated: 14, datapoints: 14, observed: 1.9, threshold: 5, unit: 'Percent' },
      ],
      explanation: `${z.resource} has run below 5% CPU for 14 days.`,
      first_seen: since.toISOString(),
      last_seen: now.toISOString(),
      status: 'open',
    };
    const payload = JSON.stringify(finding).replace(/'/g, "''");
    return `('${tenant}', '${z.id}', '${account}', 'us-east-1', 'ec2.idle', 'open', ${z.waste}, '${payload}'::jsonb)`;
  });
  return `INSERT INTO zombie_findings (tenant_id, finding_id, account_id, region, kind, status, monthly_waste_usd, payload) VALUES ${rows.join(', ')};`;
}
