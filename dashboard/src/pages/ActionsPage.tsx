/** Actions: the approvals queue (requests waiting for an admin, and those held at run time)
 * and the audit of every action, each with its decision log — who, when, the rule, the cloud's
 * calls and request ids. */
import { useState } from 'react';
import { api, ok, type ActionRecord } from '../api/client';
import { Failure, Loading, useAction, useLoad } from '../components/common';
import { ACTION_LABELS } from '../components/Remediate';
import { perMonth, when } from '../format';
import { useSigned } from '../session';

export function ActionsPage() {
  const { isAdmin } = useSigned();
  const list = useLoad(() => ok(api().GET('/v1/actions', { params: { query: { limit: 200 } } })), []);
  const waiting = list.data?.items.filter((a) => a.status === 'requested' || a.status === 'blocked') ?? [];
  const decided = (after: ActionRecord) =>
    list.setData((l) => l && { ...l, items: l.items.map((a) => (a.action_id === after.action_id ? after : a)) });
  return (
    <section>
      <h1>Actions</h1>
      <Failure message={list.error} />
      <Loading when={list.loading && !list.data} />
      <h2>Waiting for approval</h2>
      {list.data && waiting.length === 0 && <p>No action waits for approval.</p>}
      {waiting.map((a) => (
        <Approval key={a.action_id} action={a} isAdmin={isAdmin} decided={decided} />
      ))}
      <h2>Audit</h2>
      {list.data && list.data.items.length === 0 && <p>No action was requested yet.</p>}
      {list.data && list.data.items.length > 0 && (
        <table className="audit">
          <thead>
            <tr>
              <th>Requested</th>
              <th>Action</th>
              <th>Resources</th>
              <th>Status</th>
              <th>By</th>
              <th>Log</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((a) => (
              <AuditRow key={a.action_id} action={a} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** What an action does, in words. */
function summary(a: ActionRecord): string {
  // The action is described as an object: its `action` names the kind.
  const action = a.action as unknown as { action: keyof typeof ACTION_LABELS };
  return `${ACTION_LABELS[action.action] ?? action.action} in ${a.account_id} (${a.region}) — saves ${perMonth(a.monthly_usd)}`;
}

/** The resources an action names. */
function resources(a: ActionRecord): string {
  const action = a.action as unknown as { instance_ids?: string[]; volume_id?: string; allocation_id?: string };
  return (action.instance_ids ?? [action.volume_id ?? action.allocation_id ?? '']).join(', ');
}

function Approval({ action: a, isAdmin, decided }: { action: ActionRecord; isAdmin: boolean; decided: (a: ActionRecord) => void }) {
  const { busy, error, run } = useAction();
  const path = { params: { path: { id: a.action_id } } };
  const approve = () => run(async () => decided(await ok(api().POST('/v1/actions/{id}/approve', path))));
  const reject = () =>
    run(async () => decided(await ok(api().POST('/v1/actions/{id}/reject', { ...path, body: { reason: 'rejected in the dashboard' } }))));
  return (
    <article className="approval" data-action={a.action_id}>
      <p>
        <strong>{summary(a)}</strong>: {resources(a)} · requested by {a.requested_by} {when(a.requested_at)} · {a.status}
      </p>
      {isAdmin ? (
        <p className="toolbar">
          <button type="button" className="primary" disabled={busy} onClick={() => void approve()}>
            Approve
          </button>
          <button type="button" disabled={busy} onClick={() => void reject()}>
            Reject
          </button>
        </p>
      ) : (
        <p className="muted">An admin approves or rejects it.</p>
      )}
      <Failure message={error} />
    </article>
  );
}

function AuditRow({ action: a }: { action: ActionRecord }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <tr data-action={a.action_id}>
        <td>{when(a.requested_at)}</td>
        <td>{summary(a)}</td>
        <td>{resources(a)}</td>
        <td>{a.status}</td>
        <td>{a.requested_by}</td>
        <td>
          <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? 'Hide' : 'Show'}
          </button>
        </td>
      </tr>
      {open && (
        <tr>
          <td colSpan={6}>
            <Log id={a.action_id} />
          </td>
        </tr>
      )}
    </>
  );
}

function Log({ id }: { id: string }) {
  const detail = useLoad(() => ok(api().GET('/v1/actions/{id}', { params: { path: { id } } })), [id]);
  if (detail.error) return <Failure message={detail.error} />;
  if (!detail.data) return <Loading when />;
  return (
    <ol className="log">
      {detail.data.decisions.map((d, i) => (
        <li key={i}>
          {when(d.at)} · <strong>{d.step}</strong> by {d.actor} — {d.outcome} <span className="muted">({d.rule})</span>
          {(d.calls ?? []).length > 0 && (
            <ul>
              {((d.calls ?? []) as unknown as { action: string; request_id?: string | null }[]).map((c, j) => (
                <li key={j}>
                  {c.action} <span className="muted">request {c.request_id ?? 'unknown'}</span>
                </li>
              ))}
            </ul>
          )}
        </li>
      ))}
    </ol>
  );
}
