//! From verified token claims to the caller: access mode, selected role,
//! access levels and what they may do.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::apps::AppFlags;
use super::policy::{Grants, Level, Policy};
use crate::domain::NhsNumber;

/// The access mode, decided by the token's API scope as on the NHS API platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    HealthcareWorker,
    Application,
    PrivilegedApplication,
    Patient,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HealthcareWorker => "healthcare-worker",
            Self::Application => "application-restricted",
            Self::PrivilegedApplication => "privileged-application",
            Self::Patient => "patient-access",
        }
    }

    /// The access-token wording PDS uses in 403 displays (`Cannot update
    /// resource with privileged-application-restricted access token`).
    pub fn token_kind(self) -> &'static str {
        match self {
            Self::HealthcareWorker => "user-restricted",
            Self::Application => "application-restricted",
            Self::PrivilegedApplication => "privileged-application-restricted",
            Self::Patient => "patient-access",
        }
    }
}

const API: &str = "personal-demographics-service";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// No scope for this API: the token is not for us (401).
    NoApiScope,
    /// NHS login below P9, a wrong vector of trust or a missing NHS number (403).
    PatientNotAllowed,
    /// The role given by NHSD-Session-URID (or its absence) is not usable (400).
    InvalidRole(String),
    /// Authenticated, but the selected role grants no access level (403).
    NoAccessLevel(String),
}

/// Who a verified token names, as far as the claims tell: kept for the
/// audit trail even when the request is refused after the token verified
/// (no usable scope, a missing request id, an unknown role, no access
/// level). `mode` is None for a token with no scope of this API.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    pub mode: Option<Mode>,
    pub user_id: Option<String>,
    pub role_id: Option<String>,
    pub role_code: Option<String>,
    pub org_code: Option<String>,
    pub client_id: Option<String>,
}

/// The identity in `claims`, never failing: for a healthcare worker with the
/// role `urid` (or the token's) selects, when it selects one.
pub fn identify(claims: &Map<String, Value>, mode: Option<Mode>, urid: Option<&str>) -> Identity {
    let role = match mode {
        Some(Mode::HealthcareWorker) => select_role(claims, urid).ok(),
        _ => None,
    };
    identity_with(claims, mode, role.as_ref())
}

fn identity_with(
    claims: &Map<String, Value>,
    mode: Option<Mode>,
    role: Option<&NrbacRole>,
) -> Identity {
    let mut identity = Identity {
        mode,
        user_id: text(claims, "nhsid_useruid").or_else(|| text(claims, "sub")),
        client_id: text(claims, "client_id").or_else(|| text(claims, "azp")),
        ..Identity::default()
    };
    match mode {
        Some(Mode::Application | Mode::PrivilegedApplication) => {
            identity.client_id = identity.client_id.take().or_else(|| text(claims, "sub"));
            identity.user_id = None;
        }
        Some(Mode::HealthcareWorker) => {
            if let Some(role) = role {
                identity.role_id = Some(role.person_roleid.clone());
                identity.role_code = Some(role.role_code.clone()).filter(|c| !c.is_empty());
                identity.org_code = role.org_code.clone();
            }
        }
        Some(Mode::Patient) | None => {}
    }
    identity
}

/// The authenticated, authorised caller of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub mode: Mode,
    pub user_id: Option<String>,
    pub role_id: Option<String>,
    pub role_code: Option<String>,
    pub org_code: Option<String>,
    pub client_id: Option<String>,
    /// For patient access: the caller's own NHS number.
    pub own_nhs_number: Option<NhsNumber>,
    pub levels: Vec<Level>,
    pub grants: Grants,
    /// What the policy configures for the calling application (its client
    /// id), whatever the access mode.
    pub app: AppFlags,
}

impl Caller {
    pub fn identity(&self) -> Identity {
        Identity {
            mode: Some(self.mode),
            user_id: self.user_id.clone(),
            role_id: self.role_id.clone(),
            role_code: self.role_code.clone(),
            org_code: self.org_code.clone(),
            client_id: self.client_id.clone(),
        }
    }

    /// Who this is, for binding stored answers to the caller who got them:
    /// the same user in the same role (healthcare workers), the same client
    /// application (applications), the same person (patients). Each part is
    /// length-prefixed, so no two different callers give the same bytes.
    pub fn retry_identity(&self) -> Vec<u8> {
        let own = self.own_nhs_number.map(|n| n.to_string());
        let parts: [Option<&str>; 4] = match self.mode {
            Mode::HealthcareWorker => [
                Some(self.mode.as_str()),
                self.user_id.as_deref(),
                self.role_id.as_deref(),
                None,
            ],
            Mode::Application | Mode::PrivilegedApplication => [
                Some(self.mode.as_str()),
                self.client_id.as_deref(),
                None,
                None,
            ],
            Mode::Patient => [
                Some(self.mode.as_str()),
                self.user_id.as_deref(),
                own.as_deref(),
                None,
            ],
        };
        let mut out = Vec::new();
        for part in parts {
            match part {
                None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
                Some(text) => {
                    out.extend_from_slice(&(text.len() as u32).to_be_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
        out
    }

    pub fn level(&self) -> Option<Level> {
        self.levels.iter().max().copied()
    }

    /// The level that governs `action`, for the audit trail: a sensitive
    /// clinician's read is `sensitive_view`, their update `demographics_update`.
    pub fn level_for(&self, action: &str) -> Option<Level> {
        let writes = action.starts_with("update") || action.starts_with("create");
        self.levels
            .iter()
            .copied()
            .filter(|l| {
                let write_level = matches!(l, Level::DemographicsUpdate | Level::DemographicsAdmin);
                write_level == writes
            })
            .max()
            .or_else(|| self.level())
    }
}

fn scopes(claims: &Map<String, Value>) -> Vec<&str> {
    match claims.get("scope").or_else(|| claims.get("scp")) {
        Some(Value::String(s)) => s.split_whitespace().collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Decides the access mode from the scopes; NHS login below P9 is refused
/// here, before any other check (PDS order).
pub fn mode(claims: &Map<String, Value>) -> Result<Mode, Denial> {
    let scopes = scopes(claims);
    let has = |s: &str| scopes.contains(&s);
    if has("urn:nhsd:apim:app:level3:privileged-personal-demographics-service") {
        return Ok(Mode::PrivilegedApplication);
    }
    if has(&format!("urn:nhsd:apim:app:level3:{API}")) {
        return Ok(Mode::Application);
    }
    if has(&format!("urn:nhsd:apim:user-nhs-login:P9:{API}")) {
        return Ok(Mode::Patient);
    }
    if has(&format!("urn:nhsd:apim:user-nhs-login:P5:{API}"))
        || has(&format!("urn:nhsd:apim:user-nhs-login:P0:{API}"))
    {
        return Err(Denial::PatientNotAllowed);
    }
    let worker = [
        "user-nhs-cis2:aal3",
        "user-nhs-cis2:aal2",
        "user-nhs-id:aal3",
    ]
    .iter()
    .any(|kind| has(&format!("urn:nhsd:apim:{kind}:{API}")));
    if worker {
        return Ok(Mode::HealthcareWorker);
    }
    Err(Denial::NoApiScope)
}

fn text(claims: &Map<String, Value>, key: &str) -> Option<String> {
    match claims.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// CIS2 sends assurance levels as strings or numbers.
fn level_number(claims: &Map<String, Value>, keys: &[&str]) -> u8 {
    keys.iter()
        .find_map(|k| text(claims, k))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[derive(Debug, Clone, Deserialize)]
struct NrbacRole {
    person_roleid: String,
    #[serde(default)]
    org_code: Option<String>,
    #[serde(default)]
    role_code: String,
    #[serde(default)]
    activity_codes: Vec<String>,
}

/// Resolves the caller. `urid` is the NHSD-Session-URID header, if sent.
pub fn resolve(
    claims: &Map<String, Value>,
    mode: Mode,
    urid: Option<&str>,
    policy: &Policy,
) -> Result<Caller, Denial> {
    let scopes = scopes(claims);
    let role = match mode {
        Mode::HealthcareWorker => Some(select_role(claims, urid)?),
        _ => None,
    };
    let identity = identity_with(claims, Some(mode), role.as_ref());
    let app = policy.application(identity.client_id.as_deref());
    let mut caller = Caller {
        mode,
        user_id: identity.user_id,
        role_id: identity.role_id,
        role_code: identity.role_code,
        org_code: identity.org_code,
        client_id: identity.client_id,
        own_nhs_number: None,
        levels: Vec::new(),
        grants: Grants::default(),
        app,
    };
    let smart_context = match mode {
        Mode::Application | Mode::PrivilegedApplication => {
            caller.levels = vec![if mode == Mode::Application {
                Level::AppLookup
            } else {
                Level::PrivilegedApp
            }];
            "system"
        }
        Mode::Patient => {
            let proofed = text(claims, "identity_proofing_level").as_deref() == Some("P9");
            let vot_ok = text(claims, "vot").is_some_and(|v| policy.patient_vots.contains(&v));
            let number = text(claims, "nhs_number").and_then(|n| NhsNumber::parse(&n).ok());
            match (proofed, vot_ok, number) {
                (true, true, Some(n)) => caller.own_nhs_number = Some(n),
                _ => return Err(Denial::PatientNotAllowed),
            }
            caller.levels = vec![Level::PatientSelf];
            "patient"
        }
        Mode::HealthcareWorker => {
            let role_code = role.as_ref().map(|r| r.role_code.as_str()).unwrap_or("");
            let activity_codes = role
                .as_ref()
                .map(|r| r.activity_codes.as_slice())
                .unwrap_or(&[]);
            let aal = level_number(claims, &["authentication_assurance_level"]);
            let ial = level_number(claims, &["id_assurance_level", "idassurancelevel"]);
            let activities = policy.effective_activities(role_code, activity_codes);
            caller.levels = if ial >= policy.min_id_assurance {
                policy.worker_levels(&activities, aal)
            } else {
                Vec::new()
            };
            "user"
        }
    };
    let mut grants = Grants::of(&caller.levels);
    // PDS lets chosen applications update with an application-restricted
    // token; SMART scopes can still take that away.
    if matches!(mode, Mode::Application | Mode::PrivilegedApplication) && caller.app.update {
        grants.update = true;
    }
    caller.grants = grants.narrowed_by_smart_scopes(&scopes, smart_context);
    if caller.levels.is_empty() {
        return Err(Denial::NoAccessLevel(match mode {
            Mode::HealthcareWorker => {
                "The selected role does not grant access to patient demographics (it needs B0820 View Patient Demographics, and sufficient assurance)".into()
            }
            _ => "The access token grants no access level".into(),
        }));
    }
    Ok(caller)
}

/// The header, else `selected_roleid`, else the only role. Never the union.
fn select_role(claims: &Map<String, Value>, urid: Option<&str>) -> Result<NrbacRole, Denial> {
    let roles: Vec<NrbacRole> = claims
        .get("nhsid_nrbac_roles")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let find = |id: &str| roles.iter().find(|r| r.person_roleid == id).cloned();
    if let Some(urid) = urid {
        let valid = !urid.is_empty() && urid.bytes().all(|b| b.is_ascii_digit());
        return find(urid)
            .filter(|_| valid)
            .ok_or_else(|| Denial::InvalidRole(urid.to_owned()));
    }
    if let Some(selected) = text(claims, "selected_roleid") {
        return find(&selected).ok_or(Denial::InvalidRole(String::new()));
    }
    match roles.as_slice() {
        [only] => Ok(only.clone()),
        _ => Err(Denial::InvalidRole(String::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WORKER: &str = "urn:nhsd:apim:user-nhs-cis2:aal3:personal-demographics-service";

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn worker(roles: Value, extra: Value) -> Map<String, Value> {
        let mut c = claims(json!({
            "scope": WORKER, "sub": "555", "nhsid_useruid": "555",
            "authentication_assurance_level": "3", "id_assurance_level": 3,
            "nhsid_nrbac_roles": roles,
        }));
        c.extend(claims(extra));
        c
    }

    fn role(id: &str, code: &str, acts: &[&str]) -> Value {
        json!({"person_roleid": id, "org_code": "A81001", "role_code": code, "activity_codes": acts})
    }

    fn resolve_worker(c: &Map<String, Value>, urid: Option<&str>) -> Result<Caller, Denial> {
        resolve(c, mode(c)?, urid, &Policy::builtin())
    }

    #[test]
    fn modes_come_from_scopes() {
        let m = |s: &str| mode(&claims(json!({ "scope": s })));
        assert_eq!(m(WORKER), Ok(Mode::HealthcareWorker));
        assert_eq!(
            m("urn:nhsd:apim:app:level3:personal-demographics-service"),
            Ok(Mode::Application)
        );
        assert_eq!(
            m("urn:nhsd:apim:app:level3:privileged-personal-demographics-service"),
            Ok(Mode::PrivilegedApplication)
        );
        assert_eq!(
            m("urn:nhsd:apim:user-nhs-login:P9:personal-demographics-service"),
            Ok(Mode::Patient)
        );
        assert_eq!(
            m("urn:nhsd:apim:user-nhs-login:P5:personal-demographics-service"),
            Err(Denial::PatientNotAllowed)
        );
        assert_eq!(m("openid profile"), Err(Denial::NoApiScope));
    }

    #[test]
    fn the_header_selects_the_role_and_only_that_role_counts() {
        let c = worker(
            json!([
                role("111", "S0:G0:R8008", &[]),
                role("222", "S0:G0:R5110", &[])
            ]),
            json!({}),
        );
        let clerk = resolve_worker(&c, Some("111")).unwrap();
        assert_eq!(clerk.levels, [Level::StaffView]);
        assert_eq!(clerk.role_id.as_deref(), Some("111"));
        let admin = resolve_worker(&c, Some("222")).unwrap();
        assert!(admin.levels.contains(&Level::DemographicsAdmin));
        assert_eq!(
            resolve_worker(&c, Some("333")),
            Err(Denial::InvalidRole("333".into()))
        );
        // Several roles and no choice: refused, never the union.
        assert_eq!(
            resolve_worker(&c, None),
            Err(Denial::InvalidRole(String::new()))
        );
    }

    #[test]
    fn selected_roleid_then_the_single_role() {
        let two = worker(
            json!([
                role("111", "S0:G0:R8008", &[]),
                role("222", "S0:G0:R8000", &[])
            ]),
            json!({"selected_roleid": "222"}),
        );
        assert!(resolve_worker(&two, None).unwrap().grants.update);
        let one = worker(json!([role("111", "S0:G0:R8008", &[])]), json!({}));
        assert_eq!(
            resolve_worker(&one, None).unwrap().role_code.as_deref(),
            Some("S0:G0:R8008")
        );
    }

    #[test]
    fn a_role_without_demographics_activities_and_low_identity_assurance_are_refused() {
        let c = worker(json!([role("1", "S0:G0:R9999", &["B0570"])]), json!({}));
        assert!(matches!(
            resolve_worker(&c, None),
            Err(Denial::NoAccessLevel(_))
        ));
        let c = worker(
            json!([role("1", "S0:G0:R8000", &[])]),
            json!({"id_assurance_level": "2"}),
        );
        assert!(matches!(
            resolve_worker(&c, None),
            Err(Denial::NoAccessLevel(_))
        ));
    }

    #[test]
    fn an_aal2_user_may_view_but_not_update() {
        let c = worker(
            json!([role("1", "S0:G0:R8000", &[])]),
            json!({"authentication_assurance_level": 2, "scope": "urn:nhsd:apim:user-nhs-cis2:aal2:personal-demographics-service"}),
        );
        let caller = resolve_worker(&c, None).unwrap();
        assert!(caller.grants.retrieve && !caller.grants.update);
    }

    #[test]
    fn patients_need_p9_an_allowed_vector_of_trust_and_a_number() {
        let p = |extra: Value| {
            let mut c = claims(
                json!({"scope": "urn:nhsd:apim:user-nhs-login:P9:personal-demographics-service"}),
            );
            c.extend(claims(extra));
            resolve(&c, Mode::Patient, None, &Policy::builtin())
        };
        let ok = p(
            json!({"nhs_number": "9000000009", "identity_proofing_level": "P9", "vot": "P9.Cp.Cd"}),
        )
        .unwrap();
        assert_eq!(ok.own_nhs_number.unwrap().to_string(), "9000000009");
        assert_eq!(
            p(json!({"nhs_number": "9000000009", "identity_proofing_level": "P9", "vot": "P9.Cp"})),
            Err(Denial::PatientNotAllowed)
        );
        assert_eq!(
            p(
                json!({"nhs_number": "9000000009", "identity_proofing_level": "P5", "vot": "P9.Cp.Cd"})
            ),
            Err(Denial::PatientNotAllowed)
        );
        assert_eq!(
            p(json!({"identity_proofing_level": "P9", "vot": "P9.Cm"})),
            Err(Denial::PatientNotAllowed)
        );
    }

    #[test]
    fn the_identity_survives_a_refusal() {
        let c = worker(json!([role("1", "S0:G0:R9999", &["B0570"])]), json!({}));
        assert!(matches!(
            resolve_worker(&c, None),
            Err(Denial::NoAccessLevel(_))
        ));
        let who = identify(&c, mode(&c).ok(), None);
        assert_eq!(who.mode, Some(Mode::HealthcareWorker));
        assert_eq!(who.user_id.as_deref(), Some("555"));
        assert_eq!(who.role_id.as_deref(), Some("1"));
        assert_eq!(who.org_code.as_deref(), Some("A81001"));
        // An unknown role: the user is still named.
        let who = identify(&c, mode(&c).ok(), Some("999"));
        assert_eq!(who.user_id.as_deref(), Some("555"));
        assert_eq!(who.role_id, None);
    }

    #[test]
    fn retry_identities_tell_callers_apart() {
        let c = worker(
            json!([
                role("111", "S0:G0:R8000", &[]),
                role("222", "S0:G0:R8000", &[])
            ]),
            json!({}),
        );
        let a = resolve_worker(&c, Some("111")).unwrap();
        let b = resolve_worker(&c, Some("222")).unwrap();
        assert_ne!(a.retry_identity(), b.retry_identity(), "another role");
        assert_eq!(
            a.retry_identity(),
            resolve_worker(&c, Some("111")).unwrap().retry_identity()
        );
        // Length prefixes: ("ab", "c") and ("a", "bc") differ.
        let mut x = a.clone();
        x.user_id = Some("ab".into());
        x.role_id = Some("c".into());
        let mut y = a.clone();
        y.user_id = Some("a".into());
        y.role_id = Some("bc".into());
        assert_ne!(x.retry_identity(), y.retry_identity());
    }

    #[test]
    fn applications_are_identified_by_client_id() {
        let c = claims(
            json!({"scope": "urn:nhsd:apim:app:level3:personal-demographics-service", "sub": "app-1"}),
        );
        let caller = resolve(&c, Mode::Application, None, &Policy::builtin()).unwrap();
        assert_eq!(caller.client_id.as_deref(), Some("app-1"));
        assert_eq!(caller.grants.search_limit, 1);
        assert!(!caller.grants.update);
        assert_eq!(caller.app, AppFlags::default());
    }

    #[test]
    fn an_application_allowed_updates_gets_them_in_application_mode_only() {
        let mut doc: Value =
            serde_json::from_str(include_str!("../../policy/default.json")).unwrap();
        doc["applications"] = json!({"app-1": {"update": true, "record_sharing_consent": true}});
        let policy: Policy = serde_json::from_value(doc).unwrap();
        let app = |scope: &str| {
            let c = claims(json!({"scope": scope, "sub": "app-1"}));
            resolve(&c, mode(&c).unwrap(), None, &policy).unwrap()
        };
        let allowed = app("urn:nhsd:apim:app:level3:personal-demographics-service");
        assert!(allowed.grants.update && allowed.app.record_sharing_consent);
        let narrowed =
            app("urn:nhsd:apim:app:level3:personal-demographics-service system/Patient.rs");
        assert!(
            !narrowed.grants.update,
            "a SMART scope without u takes it away"
        );
        // A clerk using the same application: its flags, not an update grant.
        let mut c = worker(json!([role("1", "S0:G0:R8008", &[])]), json!({}));
        c.insert("client_id".into(), json!("app-1"));
        let clerk = resolve(&c, mode(&c).unwrap(), None, &policy).unwrap();
        assert!(clerk.app.record_sharing_consent && !clerk.grants.update);
    }
}
