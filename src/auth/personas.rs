//! Ready-made token claims for developers and client CI: one persona per
//! kind of caller, minted with the developer key (`pds token <persona>`).

use serde_json::{Value, json};

const APP_SCOPE: &str = "urn:nhsd:apim:app:level3:personal-demographics-service";
const PRIVILEGED_SCOPE: &str = "urn:nhsd:apim:app:level3:privileged-personal-demographics-service";
const PATIENT_SCOPE: &str = "urn:nhsd:apim:user-nhs-login:P9:personal-demographics-service";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Persona {
    /// Admin/Clinical Support (R8008): view and search.
    Clerk,
    /// Clinical Practitioner (R8000): view, search, update, create.
    Clinician,
    /// A clinician who may also see restricted records (B1611).
    SensitiveClinician,
    /// Demographic Administrator (R5110): everything, including restricted records.
    Admin,
    /// An application-restricted system (one-result search, no writes).
    App,
    /// A privileged application (sees `R` records on retrieve).
    PrivilegedApp,
    /// A patient through NHS login P9 (own record only); needs `--nhs-number`.
    Patient,
}

/// Changes to a persona's claims.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub nhs_number: Option<String>,
    pub role_code: Option<String>,
    pub activities: Option<Vec<String>>,
    pub aal: Option<u8>,
    /// Extra scopes, e.g. SMART `user/Patient.rs` to narrow access.
    pub scopes: Vec<String>,
}

/// A healthcare worker with one role. Each persona is a different person
/// (`user`) in a role of their own (`role`), so that what is bound to a
/// caller (a kept retry answer) is not shared between personas.
fn worker(user: &str, role: &str, role_code: &str, activities: &[&str], o: &Overrides) -> Value {
    let activities: Vec<String> = o
        .activities
        .clone()
        .unwrap_or_else(|| activities.iter().map(|s| s.to_string()).collect());
    let aal = o.aal.unwrap_or(3);
    json!({
        "sub": user,
        "nhsid_useruid": user,
        "authentication_assurance_level": aal.to_string(),
        "id_assurance_level": "3",
        "selected_roleid": role,
        "nhsid_nrbac_roles": [{
            "person_orgid": "555254239107",
            "person_roleid": role,
            "org_code": "A81001",
            "role_code": o.role_code.clone().unwrap_or_else(|| role_code.to_owned()),
            "activity_codes": activities,
        }],
        "scope": format!("urn:nhsd:apim:user-nhs-cis2:aal{aal}:personal-demographics-service"),
    })
}

/// The claims for `persona`; the developer key adds `iss`, `aud`, `exp`.
pub fn claims(persona: Persona, o: &Overrides) -> anyhow::Result<Value> {
    let mut claims = match persona {
        Persona::Clerk => worker(
            "555254240100",
            "555254242105",
            "S8000:G8001:R8008",
            &["B0820"],
            o,
        ),
        Persona::Clinician => worker(
            "555254240101",
            "555254242106",
            "S8000:G8000:R8000",
            &["B0825"],
            o,
        ),
        Persona::SensitiveClinician => worker(
            "555254240102",
            "555254242107",
            "S8000:G8000:R8000",
            &["B0825", "B1611"],
            o,
        ),
        Persona::Admin => worker(
            "555254240103",
            "555254242108",
            "S8000:G8001:R5110",
            &["B0825", "B1611", "B1680"],
            o,
        ),
        Persona::App => json!({"sub": "dev-app", "client_id": "dev-app", "scope": APP_SCOPE}),
        Persona::PrivilegedApp => {
            json!({"sub": "dev-privileged-app", "client_id": "dev-privileged-app", "scope": PRIVILEGED_SCOPE})
        }
        Persona::Patient => {
            let Some(n) = &o.nhs_number else {
                anyhow::bail!("the patient persona needs --nhs-number");
            };
            json!({
                "sub": format!("nhs-login-{n}"),
                "nhs_number": n,
                "identity_proofing_level": "P9",
                "vot": "P9.Cp.Cd",
                "scope": PATIENT_SCOPE,
            })
        }
    };
    if !o.scopes.is_empty() {
        let base = claims["scope"].as_str().unwrap_or_default().to_owned();
        claims["scope"] = json!(format!("{base} {}", o.scopes.join(" ")));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::caller::{Mode, mode, resolve};
    use crate::auth::policy::{Level, Policy};

    fn caller(p: Persona, o: &Overrides) -> crate::auth::caller::Caller {
        let c = claims(p, o).unwrap();
        let c = c.as_object().unwrap();
        resolve(c, mode(c).unwrap(), None, &Policy::builtin()).unwrap()
    }

    #[test]
    fn each_persona_gets_its_intended_level() {
        let o = Overrides::default();
        assert_eq!(caller(Persona::Clerk, &o).level(), Some(Level::StaffView));
        assert_eq!(
            caller(Persona::Clinician, &o).level(),
            Some(Level::DemographicsUpdate)
        );
        assert!(
            caller(Persona::SensitiveClinician, &o)
                .levels
                .contains(&Level::SensitiveView)
        );
        assert_eq!(
            caller(Persona::Admin, &o).level(),
            Some(Level::DemographicsAdmin)
        );
        assert_eq!(caller(Persona::App, &o).mode, Mode::Application);
        assert_eq!(
            caller(Persona::PrivilegedApp, &o).level(),
            Some(Level::PrivilegedApp)
        );
        let patient = Overrides {
            nhs_number: Some("9000000009".into()),
            ..Overrides::default()
        };
        assert_eq!(
            caller(Persona::Patient, &patient).level(),
            Some(Level::PatientSelf)
        );
        assert!(claims(Persona::Patient, &o).is_err());
    }

    #[test]
    fn overrides_change_role_activities_assurance_and_scopes() {
        let o = Overrides {
            aal: Some(2),
            scopes: vec!["user/Patient.r".into()],
            ..Overrides::default()
        };
        let c = caller(Persona::Clinician, &o);
        assert!(!c.grants.update && c.grants.retrieve && c.grants.search_limit == 0);
        let o = Overrides {
            role_code: Some("S0:G0:R9999".into()),
            activities: Some(vec!["B0820".into()]),
            ..Overrides::default()
        };
        assert_eq!(
            caller(Persona::Clinician, &o).level(),
            Some(Level::StaffView)
        );
    }
}
