//! What PDS configures per application (its "custom attributes", and the
//! flag that lets an application-restricted app update): here a table in
//! the policy file keyed by client id. An application not in it gets PDS's
//! defaults, which are all off.
//!
//! The flags follow the application, whatever the access mode: a
//! healthcare worker or a patient calling through an application gets its
//! rendering flags too, as PDS applies an app's custom attributes to every
//! token it issues to that app. Only `update` is about application-
//! restricted access alone.

use serde::Deserialize;

/// One application's flags. Unknown keys are refused when the policy
/// loads, so a misspelt flag cannot silently stay off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppFlags {
    /// Show the confidential reasons for removal (AFN, SDN) rather than
    /// ORR (PDS `return-confidential-reason-for-removal`).
    pub confidential_removal_reasons: bool,
    /// Keep empty address lines as `null` with a `_line` extension (PDS
    /// `return-empty-address-lines`).
    pub empty_address_lines: bool,
    /// Show the NHS record-sharing consent (PDS
    /// `return-nhs-record-sharing-consent`).
    pub record_sharing_consent: bool,
    /// Application-restricted (and privileged) tokens of this app may PATCH.
    pub update: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_default_to_off_and_unknown_keys_are_refused() {
        let none: AppFlags = serde_json::from_str("{}").unwrap();
        assert_eq!(none, AppFlags::default());
        let some: AppFlags = serde_json::from_str(r#"{"update": true}"#).unwrap();
        assert!(some.update && !some.record_sharing_consent);
        let typo = serde_json::from_str::<AppFlags>(r#"{"updates": true}"#);
        assert!(typo.unwrap_err().to_string().contains("unknown field"));
    }
}
