-- NHS number allocation for POST /Patient. One row per allocation range
-- (ALLOCATION_RANGE; default 9000001000-9099999999), as nine-digit stems:
-- the check digit is appended in code, and stems without one are skipped.
-- `next_stem` only ever moves forward. A create advances it inside its own
-- transaction with UPDATE, so the row lock serialises concurrent creates on
-- every server instance, and a create that fails rolls the counter back with
-- everything else: no number is ever handed out twice, and none is burnt.
-- Numbers already present in `patients` (loaded or created by another
-- route) are skipped, so an overlapping range never reissues one either.
CREATE TABLE nhs_number_allocation (
    first_stem bigint PRIMARY KEY,
    last_stem  bigint NOT NULL,
    next_stem  bigint NOT NULL,
    CHECK (first_stem BETWEEN 0 AND 999999999),
    CHECK (last_stem BETWEEN first_stem AND 999999999),
    CHECK (next_stem >= first_stem)
);
