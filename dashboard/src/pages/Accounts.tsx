/**
 * Accounts: the AWS accounts watched, the Add account wizard and ingest tokens (admins).
 *
 * Self-hosted, the wizard hands out the read-only IAM policy, the role's ExternalId (or takes
 * an access key), a CloudTrail bucket to poll or the agent's command with its token. In the
 * cloud it hands out the CloudFormation quick-create link. Either way it may name the role (or,
 * self-hosted, the second access key) that remediation acts through. Tokens are shown once.
 */
import { useState, type FormEvent } from 'react';
import { api, ok, type Schemas } from '../api/client';
import { Failure, Loading, useAction, useLoad } from '../components/common';
import { when } from '../format';
import { useSigned } from '../session';

type Access = 'role' | 'key' | 'none';

/** What an account's resources are acted on with, in words. */
function actsWith(a: Schemas['Account']): string {
  if (a.remediation_role_arn) return a.remediation_role_arn;
  if (a.remediation_access_key_id) return `access key ${a.remediation_access_key_id}`;
  return 'no action offered';
}

export function Accounts() {
  const { isAdmin } = useSigned();
  const list = useLoad(() => ok(api().GET('/v1/accounts')), []);
  const [adding, setAdding] = useState(false);
  const { error, run } = useAction();
  const [token, setToken] = useState<{ account: string; issued: Schemas['NewToken'] } | null>(null);

  const remove = async (accountId: string) => {
    if (!window.confirm(`Stop watching account ${accountId}? Its anomalies stay.`)) return;
    await run(async () => {
      await ok(api().DELETE('/v1/accounts/{account_id}', { params: { path: { account_id: accountId } } }));
      await list.reload();
    });
  };
  const newToken = (accountId: string) =>
    run(async () => {
      const issued = await ok(api().POST('/v1/accounts/{account_id}/tokens', { params: { path: { account_id: accountId } } }));
      setToken({ account: accountId, issued });
    });

  return (
    <section>
      <h1>Accounts</h1>
      <Failure message={list.error ?? error} />
      {isAdmin && !adding && (
        <button type="button" className="primary" onClick={() => setAdding(true)}>
          Add account
        </button>
      )}
      {!isAdmin && <p className="muted">Adding and removing accounts and tokens needs the admin role.</p>}
      {adding && <AddAccount close={() => setAdding(false)} added={() => void list.reload()} />}
      {token && <Issued account={token.account} issued={token.issued} done={() => setToken(null)} />}
      <Loading when={list.loading && !list.data} />
      {list.data && list.data.length === 0 && <p>No accounts yet.</p>}
      {list.data && list.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Account</th>
              <th scope="col">Name</th>
              <th scope="col">Read with</th>
              <th scope="col">Acted on with</th>
              <th scope="col">Added</th>
              {isAdmin && <th scope="col">Manage</th>}
            </tr>
          </thead>
          <tbody>
            {list.data.map((a) => (
              <tr key={a.account_id}>
                <td>{a.account_id}</td>
                <td>{a.name ?? '—'}</td>
                <td>{a.role_arn ?? (a.access_key_id ? `access key ${a.access_key_id}` : 'nothing yet')}</td>
                <td>{actsWith(a)}</td>
                <td>{when(a.created_at)}</td>
                {isAdmin && (
                  <td>
                    <span className="actions">
                      <button type="button" onClick={() => void newToken(a.account_id)}>
                        New ingest token
                      </button>
                      <button type="button" onClick={() => void remove(a.account_id)}>
                        Remove
                      </button>
                    </span>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** A token just issued: shown once, with what revokes it. */
function Issued({ account, issued, done }: { account: string; issued: Schemas['NewToken']; done: () => void }) {
  const [revoked, setRevoked] = useState(false);
  const { error, run } = useAction();
  const revoke = () =>
    run(async () => {
      await ok(api().DELETE('/v1/tokens/{token_sha256}', { params: { path: { token_sha256: issued.token_sha256 } } }));
      setRevoked(true);
    });
  return (
    <div className="panel" role="region" aria-label="New ingest token">
      <h2>Ingest token for {account}</h2>
      <p>Copy it now: it is shown this once.</p>
      <Copyable text={issued.ingest_token} label="Ingest token" />
      <p className="muted">SHA-256 (what revokes it): {issued.token_sha256}</p>
      {revoked ? <p role="status">Revoked.</p> : <button type="button" onClick={() => void revoke()}>Revoke</button>}
      <button type="button" onClick={done}>
        Done
      </button>
      <Failure message={error} />
    </div>
  );
}

export function Copyable({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="copyable">
      {/* Focusable: a long policy scrolls, and a keyboard must reach it. */}
      <pre aria-label={label} tabIndex={0}>
        {text}
      </pre>
      <button
        type="button"
        onClick={() => {
          void navigator.clipboard?.writeText(text).then(() => setCopied(true));
        }}
      >
        {copied ? 'Copied' : `Copy ${label}`}
      </button>
    </div>
  );
}

/** The wizard: the account, how to read it, then what to set up in AWS. */
function AddAccount({ close, added }: { close: () => void; added: () => void }) {
  const { config } = useSigned();
  const cloud = config.mode === 'cloud';
  const [access, setAccess] = useState<Access>(cloud ? 'none' : 'role');
  const [acting, setActing] = useState<Access>('none');
  const [result, setResult] = useState<Schemas['Added'] | null>(null);
  const { error, run } = useAction();

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const text = (k: string) => String(form.get(k) ?? '').trim() || null;
    const body: Schemas['NewAccount'] = { account_id: text('account_id') ?? '', name: text('name') };
    if (access === 'role') body.role_name = text('role_name');
    if (access === 'key') {
      body.access_key = { access_key_id: text('access_key_id') ?? '', secret_access_key: text('secret_access_key') ?? '' };
    }
    if (acting === 'role') body.remediation_role_name = text('remediation_role_name');
    if (acting === 'key') {
      body.remediation_access_key = {
        access_key_id: text('remediation_access_key_id') ?? '',
        secret_access_key: text('remediation_secret_access_key') ?? '',
      };
    }
    if (!cloud) body.cloudtrail_s3 = text('cloudtrail_s3');
    return run(async () => {
      setResult(await ok(api().POST('/v1/accounts', { body })));
      added();
    });
  };

  if (result) return <SetUp added={result} cloud={cloud} close={close} />;
  return (
    <form className="panel" onSubmit={submit} aria-label="Add account">
      <h2>Add an AWS account</h2>
      <label>
        Account id
        <input name="account_id" required inputMode="numeric" pattern="[0-9]{12}" placeholder="123456789012" />
      </label>
      <label>
        Name
        <input name="name" placeholder="prod" maxLength={256} />
      </label>
      {!cloud && (
        <fieldset>
          <legend>How dd0c/cost reads the account</legend>
          <label className="choice">
            <input type="radio" name="access" checked={access === 'role'} onChange={() => setAccess('role')} /> An IAM role with an
            ExternalId (recommended)
          </label>
          <label className="choice">
            <input type="radio" name="access" checked={access === 'key'} onChange={() => setAccess('key')} /> An access key of a
            read-only user
          </label>
          <label className="choice">
            <input type="radio" name="access" checked={access === 'none'} onChange={() => setAccess('none')} /> Neither yet (push
            CloudTrail only)
          </label>
          {access === 'role' && (
            <label>
              Role name
              <input name="role_name" defaultValue="dd0c-cost-reader" pattern="[A-Za-z0-9+=,.@_\-]{1,64}" />
            </label>
          )}
          {access === 'key' && (
            <>
              <label>
                Access key id
                <input name="access_key_id" required placeholder="AKIA…" />
              </label>
              <label>
                Secret access key
                <input name="secret_access_key" type="password" required autoComplete="off" />
              </label>
            </>
          )}
          <label>
            CloudTrail bucket to poll (optional)
            <input name="cloudtrail_s3" placeholder="s3://my-trail-bucket/prefix" />
          </label>
        </fieldset>
      )}
      <fieldset>
        <legend>How dd0c/cost acts on its resources (remediation, optional)</legend>
        <label className="choice">
          <input type="radio" name="acting" checked={acting === 'none'} onChange={() => setActing('none')} /> It does not: no action
          is offered
        </label>
        <label className="choice">
          <input type="radio" name="acting" checked={acting === 'role'} onChange={() => setActing('role')} /> The remediation role
          (same ExternalId)
        </label>
        {!cloud && (
          <label className="choice">
            <input type="radio" name="acting" checked={acting === 'key'} onChange={() => setActing('key')} /> A second access key
          </label>
        )}
        {acting === 'role' && (
          <label>
            Remediation role name
            <input name="remediation_role_name" defaultValue="dd0c-cost-remediation" pattern="[A-Za-z0-9+=,.@_\-]{1,64}" />
          </label>
        )}
        {acting === 'key' && (
          <>
            <label>
              Remediation access key id
              <input name="remediation_access_key_id" required placeholder="AKIA…" />
            </label>
            <label>
              Remediation secret access key
              <input name="remediation_secret_access_key" type="password" required autoComplete="off" />
            </label>
          </>
        )}
      </fieldset>
      <button type="submit" className="primary">
        Add account
      </button>
      <button type="button" onClick={close}>
        Cancel
      </button>
      <Failure message={error} />
    </form>
  );
}

/** What to do in AWS after adding: the quick-create link, or the policy, ids and commands. */
function SetUp({ added, cloud, close }: { added: Schemas['Added']; cloud: boolean; close: () => void }) {
  return (
    <div className="panel" role="region" aria-label="Connect the account">
      <h2>Connect account {added.account.account_id}</h2>
      {cloud && added.quick_create_url ? (
        <>
          <p>Open this link signed in to that AWS account: one CloudFormation stack creates the read-only role and forwards CloudTrail.</p>
          <p>
            <a href={added.quick_create_url} target="_blank" rel="noreferrer">
              Launch the CloudFormation stack
            </a>
          </p>
        </>
      ) : (
        <>
          <ol className="steps">
            <li>
              In account {added.account.account_id}, create the role
              {added.account.role_arn ? ` ${added.account.role_arn}` : ''} trusted with ExternalId:
              <Copyable text={added.external_id} label="ExternalId" />
            </li>
            <li>
              Give it this read-only policy:
              <Copyable text={JSON.stringify(added.iam_policy, null, 2)} label="IAM policy" />
            </li>
            <li>
              Send its CloudTrail: push it with this token (shown once; a trail bucket given above is polled
              already):
              <Copyable text={added.ingest_token} label="Ingest token" />
              or run the agent beside an EventBridge rule → SQS queue, pointed at this address (behind the
              self-hosted install&apos;s caddy, which forwards the agent&apos;s gRPC; a dispatcher without it
              listens on its <code>DD0C_GRPC_LISTEN</code>):
              <Copyable
                text={`dd0c-agent --endpoint ${window.location.origin} --token ${added.ingest_token} --sqs-queue-url https://sqs.REGION.amazonaws.com/${added.account.account_id}/dd0c-cloudtrail`}
                label="Agent command"
              />
            </li>
          </ol>
        </>
      )}
      <button type="button" onClick={close}>
        Done
      </button>
    </div>
  );
}
