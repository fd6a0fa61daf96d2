// Mirrors migrations/; kept by hand (diesel print-schema output format).

diesel::table! {
    patients (nhs_number) {
        nhs_number -> Int8,
        superseded_by -> Nullable<Int8>,
        deceased_at -> Nullable<Timestamptz>,
        version -> Int4,
        birth_date -> Nullable<Date>,
        security -> Int2,
        gender -> Nullable<Int2>,
        details -> Bytea,
    }
}

diesel::table! {
    patient_versions (nhs_number, version) {
        nhs_number -> Int8,
        version -> Int4,
        recorded_at -> Timestamptz,
        superseded_by -> Nullable<Int8>,
        deceased_at -> Nullable<Timestamptz>,
        birth_date -> Nullable<Date>,
        security -> Int2,
        gender -> Nullable<Int2>,
        details -> Bytea,
    }
}
