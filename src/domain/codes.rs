//! Closed code lists from the FHIR, UK Core and PDS code systems.
//!
//! Each list is an enum so an invalid code cannot be stored. The variant order
//! is part of the stored record encoding (see `store::codec`): append new
//! variants at the end, never reorder.

use serde::{Deserialize, Serialize};

macro_rules! coded {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal, $display:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $(Self::$variant => $code),+ }
            }

            pub fn display(self) -> &'static str {
                match self { $(Self::$variant => $display),+ }
            }

            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

coded!(
    /// `meta.security` confidentiality code.
    Security {
        Unrestricted = "U", "unrestricted";
        Restricted = "R", "restricted";
        VeryRestricted = "V", "very restricted";
    }
);

impl Security {
    /// The stricter of two labels: `V` over `R` over `U`.
    pub fn strictest(self, other: Self) -> Self {
        let rank = |s: Self| match s {
            Self::Unrestricted => 0,
            Self::Restricted => 1,
            Self::VeryRestricted => 2,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

coded!(
    /// Administrative gender.
    Gender {
        Male = "male", "Male";
        Female = "female", "Female";
        Other = "other", "Other";
        Unknown = "unknown", "Unknown";
    }
);

coded!(
    NameUse {
        Usual = "usual", "Usual";
        Temp = "temp", "Temp";
        Nickname = "nickname", "Nickname";
        Old = "old", "Old";
        Maiden = "maiden", "Name changed for Marriage";
    }
);

coded!(
    AddressUse {
        Home = "home", "Home";
        Work = "work", "Work";
        Temp = "temp", "Temporary";
        Billing = "billing", "Billing";
    }
);

coded!(
    TelecomSystem {
        Phone = "phone", "Phone";
        Fax = "fax", "Fax";
        Email = "email", "Email";
        Other = "other", "Other";
    }
);

coded!(
    TelecomUse {
        Home = "home", "Home";
        Work = "work", "Work";
        Temp = "temp", "Temp";
        Mobile = "mobile", "Mobile";
    }
);

coded!(
    /// UK Core address key type.
    AddressKeyType {
        Paf = "PAF", "PAF";
        Uprn = "UPRN", "UPRN";
    }
);

coded!(
    /// UKCore-NHSNumberVerificationStatus.
    Verification {
        Verified = "01", "Number present and verified";
        NotTraced = "02", "Number present but not traced";
        TraceRequired = "03", "Trace required";
        TraceFailed = "04", "Trace attempted - No match or multiple match found";
        TraceToResolve = "05", "Trace needs to be resolved - (NHS Number or patient detail conflict)";
        TraceInProgress = "06", "Trace in progress";
        NotPresent = "07", "Number not present and trace not required";
        TracePostponed = "08", "Trace postponed (baby under six weeks old)";
    }
);

coded!(
    /// UKCore-DeathNotificationStatus.
    DeathStatus {
        Informal = "1", "Informal - death notice received via an update from a local NHS Organisation such as GP or Trust";
        Formal = "2", "Formal - death notice received from Registrar of Deaths";
        Removed = "U", "Removed";
    }
);

coded!(
    /// UKCore-PreferredWrittenCommunicationFormat.
    WrittenFormat {
        LargePrint = "11", "Large print";
        Braille = "12", "Braille";
        AudioTape = "13", "Audio tape";
    }
);

coded!(
    /// UKCore-PreferredContactMethod.
    ContactMethod {
        Letter = "1", "Letter";
        Visit = "2", "Visit";
        Telephone = "3", "Telephone";
        Email = "4", "E-mail";
        Minicom = "5", "Minicom (Textphone)";
        TelephoneViaProxy = "6", "Telephone contact via proxy";
        SignLanguage = "7", "Sign language";
        NoTelephone = "8", "No telephone contact";
    }
);

coded!(
    /// PDS-RemovalReasonExitCode, including the confidential and internal
    /// codes that are shown to ordinary callers as `ORR`.
    RemovalReason {
        Death = "DEA", "Death";
        Embarkation = "EMB", "Embarkation";
        Scotland = "SCT", "Transferred to Scotland";
        NorthernIreland = "NIT", "Transferred to Northern Ireland";
        TemporaryResident = "TRA", "Temporary resident not returned";
        Other = "ORR", "Other Reason";
        ArmedForces = "AFN", "Armed Forces (notified by Armed Forces)";
        ServicesDependant = "SDN", "Services dependant (notified by SMO)";
        LogicalDeletion = "LDN", "Logical deletion";
    }
);

coded!(
    /// The NHS record-sharing consent value (consentType `4`, "ncrs").
    /// PDS shows only `1` and `2`; `3` and `5` are held but never shown.
    SharingConsent {
        Consent = "1", "consent";
        Dissent = "2", "dissent";
        Unknown = "3", "unknown";
        Callback = "5", "call-centre callback";
    }
);

impl RemovalReason {
    /// What a caller without the confidential-reasons privilege sees.
    pub fn public(self) -> Self {
        self.shown(false)
    }

    /// What a caller sees, `confidential` if its application may see the
    /// confidential reasons (AFN, SDN). A logical deletion (LDN) is shown as
    /// ORR even then: PDS's own tests of such an application expect ORR.
    pub fn shown(self, confidential: bool) -> Self {
        match self {
            Self::ArmedForces | Self::ServicesDependant if confidential => self,
            Self::ArmedForces | Self::ServicesDependant | Self::LogicalDeletion => Self::Other,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for g in Gender::ALL {
            assert_eq!(Gender::from_code(g.code()), Some(*g));
        }
        assert_eq!(Security::from_code("R"), Some(Security::Restricted));
        assert_eq!(Security::from_code("X"), None);
    }

    #[test]
    fn confidential_removal_reasons_are_hidden() {
        assert_eq!(RemovalReason::ArmedForces.public().code(), "ORR");
        assert_eq!(RemovalReason::Scotland.public().code(), "SCT");
        assert_eq!(RemovalReason::ArmedForces.shown(true).code(), "AFN");
        assert_eq!(RemovalReason::ServicesDependant.shown(true).code(), "SDN");
        assert_eq!(RemovalReason::LogicalDeletion.shown(true).code(), "ORR");
    }
}
