-- Idempotent retries: PDS tells clients to retry a timed-out update with the
-- same X-Request-ID. The first successful answer to each request id is kept
-- for 24 hours; a retry with the same request (method, path, body) gets it
-- back without applying anything twice, a different request with a reused id
-- is refused. Written in the same transaction as the update it answers, so
-- every server instance sees it.
CREATE TABLE idempotency_keys (
    request_id   uuid        PRIMARY KEY,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- SHA-256 of method, path and body.
    request_hash bytea       NOT NULL,
    status       smallint    NOT NULL,
    etag_version integer,
    body         bytea       NOT NULL
);
-- Expiry deletes by age; rows arrive in time order.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys USING brin (created_at);
