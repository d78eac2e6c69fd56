-- A resource's row holds its changes alone, as `json`: the row's columns already name the
-- resource, its tenant, when it was found gone and (apart) its anomaly, so the record repeated
-- them in every change. Every priced event writes one such row; `json` is stored as written
-- (checked, not parsed into a tree), and the ledger is read only whole, by the application.
ALTER TABLE resources ADD COLUMN changes json;
UPDATE resources SET changes = coalesce(
    (SELECT json_agg(c - 'key' ORDER BY o)
     FROM jsonb_array_elements(record->'changes') WITH ORDINALITY AS e(c, o)),
    '[]'::json);
ALTER TABLE resources ALTER COLUMN changes SET NOT NULL;
ALTER TABLE resources DROP COLUMN record;
