/** The action menu of an anomaly or a zombie finding: a button per action that fits its
 * resources, each a request an admin approves (the server dry-runs it at once and refuses what
 * is protected or gone). Shown only while the tenant's remediation is on. */
import { useState } from 'react';
import { api, ok, type ActionKind, type ActionRecord } from '../api/client';
import { Failure, useAction, useLoad } from './common';

/** What each action's button says. */
export const ACTION_LABELS: Record<ActionKind, string> = {
  stop_instances: 'Stop',
  terminate_instances: 'Terminate',
  delete_volume: 'Delete volume',
  release_address: 'Release address',
  delete_nat_gateway: 'Delete NAT gateway',
  delete_load_balancer: 'Delete load balancer',
  stop_db_instance: 'Stop database',
  delete_db_instance: 'Delete database',
  archive_snapshot: 'Archive snapshot',
};

/** The actions that fit a finding of each kind (the server refuses a misfit all the same). */
export const FINDING_ACTIONS: Record<string, ActionKind[]> = {
  'ebs.unattached': ['delete_volume'],
  'eip.unassociated': ['release_address'],
  'ec2.idle': ['stop_instances', 'terminate_instances'],
  'ec2.stopped': ['terminate_instances'],
  'elb.idle': ['delete_load_balancer'],
  'nat.idle': ['delete_nat_gateway'],
  'rds.idle': ['stop_db_instance', 'delete_db_instance'],
  'snapshot.orphaned': ['archive_snapshot'],
};

/** The actions that fit an anomaly's resources, by their kind. */
export const ANOMALY_ACTIONS: Record<string, ActionKind[]> = {
  'ec2.instance': ['stop_instances', 'terminate_instances'],
  'ec2.volume': ['delete_volume'],
  'ec2.elastic-ip': ['release_address'],
  'ec2.nat-gateway': ['delete_nat_gateway'],
  'elb.load-balancer': ['delete_load_balancer'],
  'rds.instance': ['stop_db_instance', 'delete_db_instance'],
};

export type Subject = { finding_id: string } | { anomaly_id: string };

/** Whether the tenant's remediation is on (`null` while unknown). */
export function useRemediationOn(): boolean | null {
  const settings = useLoad(() => ok(api().GET('/v1/settings/remediation')), []);
  return settings.data ? settings.data.mode !== 'off' : null;
}

export function Remediate({ subject, kinds, on }: { subject: Subject; kinds: ActionKind[]; on: boolean | null }) {
  const [requested, setRequested] = useState<ActionRecord | null>(null);
  const { busy, error, run } = useAction();
  if (!on || kinds.length === 0) return null;
  const request = (action: ActionKind) =>
    run(async () => {
      setRequested(await ok(api().POST('/v1/actions', { body: { ...subject, action } })));
    });
  return (
    <span className="remediate">
      {kinds.map((kind) => (
        <button key={kind} type="button" className="danger" disabled={busy || requested !== null} onClick={() => void request(kind)}>
          {ACTION_LABELS[kind]}…
        </button>
      ))}
      {requested && (
        <span role="status">
          {requested.status === 'approved' ? 'Approved' : 'Requested'}: {requested.action_id} ({requested.status})
        </span>
      )}
      <Failure message={error} />
    </span>
  );
}
