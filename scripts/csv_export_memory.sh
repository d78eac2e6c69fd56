#!/bin/bash
# The anomaly CSV export at scale: N anomalies (default 10,000) written straight into a fresh
# database on the Postgres server SERVER (a URL without a database), exported over HTTP by
# `dd0c-cost serve` (api role), read back by Python's csv module; prints the api's peak RSS
# before and after the export, which stay equal when the export streams.
#   SERVER=postgres://postgres@127.0.0.1:55432 scripts/csv_export_memory.sh 50000
set -e
N=${1:-10000}
SERVER=${SERVER:?a Postgres server URL without a database, e.g. postgres://postgres@127.0.0.1:5432}
BIN=${BIN:-$(dirname "$0")/../target/debug/dd0c-cost}
DB=csvmem_$N
PSQL="psql $SERVER/postgres -qAt"
$PSQL -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export DATABASE_URL=$SERVER/$DB DD0C_ROLES=api
$BIN migrate >/dev/null
$BIN tenant add acme >/dev/null
psql "$DATABASE_URL" -qAt -c "INSERT INTO anomalies (tenant_id, anomaly_id, event_id, account_id, event_time, severity, status, payload)
 SELECT 'acme', 'an-' || g, 'ev-' || g, '111122223333', timestamptz '2026-11-01' + g * interval '1 minute', 'warning', 'open',
   jsonb_build_object('anomaly_id', 'an-' || g, 'event_id', 'ev-' || g, 'event_time', to_char((timestamptz '2026-11-01' + g * interval '1 minute') at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
     'tenant', 'acme', 'account_id', '111122223333', 'region', 'us-east-1', 'actor_arn', 'arn:aws:iam::111122223333:user/=cmd',
     'resource_kind', 'ec2.instance', 'resource_type', 'm5.large', 'resource_ids', jsonb_build_array('i-' || g), 'quantity', 1,
     'hourly_usd', 0.096, 'monthly_usd', 70.08, 'severity', 'warning', 'score', 50, 'reasons', '[]'::jsonb,
     'explanation', '=HYPERLINK(\"x\"), a launch', 'status', 'open')
 FROM generate_series(1, $N) g"
printf 'a-long-password-1\n' | $BIN user add --tenant acme --email ops@acme.example --role admin >/dev/null
export DD0C_JWT_SECRET=$(openssl rand -hex 32)
$BIN serve --listen 127.0.0.1:58080 >/tmp/csvmem-serve.log 2>&1 &
PID=$!
trap "kill $PID" EXIT
for i in $(seq 50); do curl -sf http://127.0.0.1:58080/readyz >/dev/null && break; sleep 0.2; done
TOKEN=$(curl -s http://127.0.0.1:58080/v1/auth/login -H 'content-type: application/json' -d '{"email":"ops@acme.example","password":"a-long-password-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:58080/v1/anomalies?limit=200" >/dev/null
before=$(grep VmHWM /proc/$PID/status | awk '{print $2}')
start=$(date +%s.%N)
curl -s -H "Authorization: Bearer $TOKEN" -H 'Accept: text/csv' "http://127.0.0.1:58080/v1/anomalies" -o /tmp/csvmem.csv
took=$(echo "$(date +%s.%N) - $start" | bc)
after=$(grep VmHWM /proc/$PID/status | awk '{print $2}')
python3 - "$N" <<'PY'
import csv, sys
rows = list(csv.reader(open('/tmp/csvmem.csv', newline='', encoding='utf-8')))
header, body = rows[0], rows[1:]
assert len(body) == int(sys.argv[1]), (len(body), sys.argv[1])
bad = [c for r in body for c in r if c[:1] in ('=', '+', '-', '@')]
assert not bad, bad[:3]
print(f"python csv: {len(body)} records of {len(header)} cells, none a spreadsheet evaluates")
PY
echo "anomalies=$N csv_bytes=$(stat -c %s /tmp/csvmem.csv) seconds=$took peak_rss_kib_before=$before after=$after"
$PSQL -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
