#!/bin/sh
# First start of the compose Postgres: the login role the dispatchers connect as. It belongs to
# dd0c_app (whose grants and row-level security the migrations set up) and owns nothing, so
# row-level security applies to it; migrations run as the owner (POSTGRES_USER).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<EOSQL
CREATE ROLE dd0c_app NOLOGIN;
CREATE ROLE dd0c_api LOGIN PASSWORD '${DD0C_APP_PASSWORD}' IN ROLE dd0c_app;
EOSQL
