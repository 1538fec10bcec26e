-- Sealed documents (signatures, base64 certificates) do not compress: PostgreSQL tried pglz on every
-- result, stored answer and receipt larger than about 2 kB, failed, and stored it as it was -- CPU for
-- nothing on every write (pg_column_compression() is NULL for all of them). EXTERNAL keeps them out of
-- line without trying. A change of the catalogue only: no row is rewritten, values already stored stay
-- as they are.
ALTER TABLE requests ALTER COLUMN result SET STORAGE EXTERNAL;
ALTER TABLE idempotency_keys ALTER COLUMN response SET STORAGE EXTERNAL;
ALTER TABLE receipts ALTER COLUMN document SET STORAGE EXTERNAL;
ALTER TABLE bundles ALTER COLUMN receipt SET STORAGE EXTERNAL
