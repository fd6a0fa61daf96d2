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
        family_key -> Nullable<Text>,
    }
}

diesel::table! {
    patient_former_names (nhs_number, family_key) {
        family_key -> Text,
        birth_date -> Nullable<Date>,
        nhs_number -> Int8,
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

// Append-only, no primary key in SQL; diesel needs one named, `at` serves.
diesel::table! {
    audit_events (at) {
        at -> Timestamptz,
        nhs_number -> Nullable<Int8>,
        request_id -> Nullable<Uuid>,
        correlation_id -> Nullable<Uuid>,
        status -> Int2,
        access_mode -> Nullable<Int2>,
        action -> Nullable<Int2>,
        level -> Nullable<Int2>,
        redacted -> Bool,
        sensitive_override -> Bool,
        user_id -> Nullable<Text>,
        role_id -> Nullable<Text>,
        role_code -> Nullable<Text>,
        org_code -> Nullable<Text>,
        client_id -> Nullable<Text>,
        request_id_text -> Nullable<Text>,
        correlation_id_text -> Nullable<Text>,
        access_mode_name -> Nullable<Text>,
        action_name -> Nullable<Text>,
        level_name -> Nullable<Text>,
        other_nhs_numbers -> Nullable<Array<Int8>>,
    }
}

diesel::table! {
    idempotency_keys (request_id) {
        request_id -> Uuid,
        created_at -> Timestamptz,
        request_hash -> Bytea,
        status -> Int2,
        nhs_number -> Int8,
        version -> Int4,
    }
}

diesel::table! {
    related_people (nhs_number, id) {
        nhs_number -> Int8,
        id -> Text,
        details -> Bytea,
    }
}

diesel::table! {
    patient_coverage (nhs_number, version) {
        nhs_number -> Int8,
        version -> Int4,
        expires -> Date,
        country -> Text,
        card_number -> Text,
        institution -> Nullable<Text>,
        personal_id -> Nullable<Text>,
    }
}

diesel::table! {
    nhs_number_allocation (first_stem) {
        first_stem -> Int8,
        last_stem -> Int8,
        next_stem -> Int8,
    }
}

// A PATCH reads the patient and looks up its request id in one query.
diesel::allow_tables_to_appear_in_same_query!(patients, idempotency_keys);
