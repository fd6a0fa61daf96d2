mod patient_mode;
mod tokens;
