//! Access levels: who gets which, and what each may do.
//!
//! Two tables decide everything. `policy/default.json` (or `POLICY_FILE`)
//! says which activities and assurance levels grant a healthcare worker each
//! level; `GRANTS` below says what a level may do. A caller may hold several
//! levels (a clinician with B0825 holds staff_view and demographics_update);
//! what they may do is the union of those levels' grants, then narrowed by the
//! token's SMART scopes if it has any.

use anyhow::Context;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::apps::AppFlags;
pub use crate::domain::patient::Clearance;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    AppLookup,
    PrivilegedApp,
    PatientSelf,
    StaffView,
    SensitiveView,
    DemographicsUpdate,
    DemographicsAdmin,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AppLookup => "app_lookup",
            Self::PrivilegedApp => "privileged_app",
            Self::PatientSelf => "patient_self",
            Self::StaffView => "staff_view",
            Self::SensitiveView => "sensitive_view",
            Self::DemographicsUpdate => "demographics_update",
            Self::DemographicsAdmin => "demographics_admin",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants {
    pub retrieve: bool,
    /// Most results a search may return; 0 means no search.
    pub search_limit: u8,
    pub related: bool,
    pub update: bool,
    pub create: bool,
    pub admin: bool,
    pub clearance: Clearance,
}

const fn grants(
    retrieve: bool,
    search_limit: u8,
    update: bool,
    create: bool,
    admin: bool,
    clearance: Clearance,
) -> Grants {
    Grants {
        retrieve,
        search_limit,
        related: retrieve,
        update,
        create,
        admin,
        clearance,
    }
}

/// What each level may do. A patient's updates are limited to their own
/// record and to the patient-editable fields (checked by the update rules).
pub const GRANTS: &[(Level, Grants)] = &[
    (
        Level::AppLookup,
        grants(true, 1, false, false, false, Clearance::None),
    ),
    (
        Level::PrivilegedApp,
        grants(true, 1, false, false, false, Clearance::Restricted),
    ),
    (
        Level::PatientSelf,
        grants(true, 0, true, false, false, Clearance::All),
    ),
    (
        Level::StaffView,
        grants(true, 50, false, false, false, Clearance::None),
    ),
    (
        Level::SensitiveView,
        grants(true, 50, false, false, false, Clearance::All),
    ),
    (
        Level::DemographicsUpdate,
        grants(false, 0, true, true, false, Clearance::None),
    ),
    (
        Level::DemographicsAdmin,
        grants(false, 0, false, false, true, Clearance::None),
    ),
];

impl Grants {
    pub fn of(levels: &[Level]) -> Self {
        GRANTS
            .iter()
            .filter(|(level, _)| levels.contains(level))
            .fold(Grants::default(), |acc, (_, g)| Grants {
                retrieve: acc.retrieve || g.retrieve,
                search_limit: acc.search_limit.max(g.search_limit),
                related: acc.related || g.related,
                update: acc.update || g.update,
                create: acc.create || g.create,
                admin: acc.admin || g.admin,
                clearance: acc.clearance.max(g.clearance),
            })
    }

    /// SMART v2 scopes (`user/Patient.rs`, `system/Patient.r`, legacy
    /// `user/Patient.read`) can only take permissions away. A token without
    /// any SMART scope for `prefix` keeps its grants.
    pub fn narrowed_by_smart_scopes(self, scopes: &[&str], prefix: &str) -> Self {
        let mut allowed: Option<BTreeSet<char>> = None;
        for scope in scopes {
            let Some((context, rest)) = scope.split_once('/') else {
                continue;
            };
            if !matches!(context, "user" | "system" | "patient") {
                continue;
            }
            let set = allowed.get_or_insert_with(BTreeSet::new);
            // A SMART scope for another principal kind grants nothing here.
            if context != prefix {
                continue;
            }
            let Some((resource, ops)) = rest.split_once('.') else {
                continue;
            };
            if resource != "Patient" && resource != "*" {
                continue;
            }
            match ops {
                "read" => set.extend(['r', 's']),
                "write" => set.extend(['c', 'u', 'd']),
                "*" => set.extend(['c', 'r', 'u', 'd', 's']),
                ops => set.extend(ops.chars()),
            }
        }
        let Some(ops) = allowed else {
            return self;
        };
        Grants {
            retrieve: self.retrieve && ops.contains(&'r'),
            search_limit: if ops.contains(&'s') {
                self.search_limit
            } else {
                0
            },
            related: self.related && ops.contains(&'r'),
            update: self.update && ops.contains(&'u'),
            create: self.create && ops.contains(&'c'),
            admin: self.admin && ops.contains(&'u'),
            clearance: if ops.contains(&'r') {
                self.clearance
            } else {
                Clearance::None
            },
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelRule {
    level: Level,
    activities: Vec<String>,
    min_aal: u8,
}

/// The RBAC configuration (see `policy/default.json`). Unknown keys are
/// refused, so a misspelt key fails the start rather than being ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default, rename = "_comment")]
    _comment: Option<String>,
    activity_includes: HashMap<String, Vec<String>>,
    role_baselines: HashMap<String, Vec<String>>,
    worker_levels: Vec<LevelRule>,
    pub min_id_assurance: u8,
    pub patient_vots: Vec<String>,
    /// Per-application flags by client id (`auth::apps`); none by default.
    #[serde(default)]
    applications: HashMap<String, AppFlags>,
}

const DEFAULT_POLICY: &str = include_str!("../../policy/default.json");

impl Policy {
    pub fn builtin() -> Self {
        serde_json::from_str(DEFAULT_POLICY).expect("policy/default.json is valid (tested)")
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing policy {}", path.display()))
    }

    /// The selected role's activities: those the token lists, the role
    /// baseline for its job role (the R-code, last part of `S..:G..:R..`),
    /// and everything those include.
    pub fn effective_activities(&self, role_code: &str, listed: &[String]) -> BTreeSet<String> {
        let job_role = role_code.rsplit(':').next().unwrap_or_default();
        let mut out: BTreeSet<String> = listed.iter().cloned().collect();
        out.extend(
            self.role_baselines
                .get(job_role)
                .into_iter()
                .flatten()
                .cloned(),
        );
        let mut pending: Vec<String> = out.iter().cloned().collect();
        while let Some(code) = pending.pop() {
            for included in self.activity_includes.get(&code).into_iter().flatten() {
                if out.insert(included.clone()) {
                    pending.push(included.clone());
                }
            }
        }
        out
    }

    /// The flags of the application `client_id` names: PDS's defaults
    /// (all off) for one the policy does not list, or none named.
    pub fn application(&self, client_id: Option<&str>) -> AppFlags {
        client_id
            .and_then(|id| self.applications.get(id))
            .copied()
            .unwrap_or_default()
    }

    pub fn worker_levels(&self, activities: &BTreeSet<String>, aal: u8) -> Vec<Level> {
        self.worker_levels
            .iter()
            .filter(|rule| {
                aal >= rule.min_aal && rule.activities.iter().all(|a| activities.contains(a))
            })
            .map(|rule| rule.level)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(role: &str, listed: &[&str], aal: u8) -> Vec<Level> {
        let policy = Policy::builtin();
        let listed: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
        policy.worker_levels(&policy.effective_activities(role, &listed), aal)
    }

    #[test]
    fn the_builtin_policy_parses() {
        let p = Policy::builtin();
        assert_eq!(p.min_id_assurance, 3);
        assert_eq!(p.patient_vots.len(), 3);
    }

    #[test]
    fn applications_are_looked_up_by_client_id_and_unknown_keys_refused() {
        let mut doc: serde_json::Value = serde_json::from_str(DEFAULT_POLICY).unwrap();
        doc["applications"] = serde_json::json!({"app-1": {"update": true}});
        let p: Policy = serde_json::from_value(doc.clone()).unwrap();
        assert!(p.application(Some("app-1")).update);
        assert_eq!(p.application(Some("app-2")), AppFlags::default());
        assert_eq!(p.application(None), AppFlags::default());
        assert!(Policy::builtin().applications.is_empty());
        let mut typo = doc.clone();
        typo["applications"]["app-1"]["updat"] = true.into();
        assert!(serde_json::from_value::<Policy>(typo).is_err());
        let mut typo = doc;
        typo["aplications"] = serde_json::json!({});
        assert!(serde_json::from_value::<Policy>(typo).is_err());
    }

    #[test]
    fn amend_includes_view_and_baselines_fill_in_unlisted_codes() {
        assert_eq!(
            levels("S0:G0:R9999", &["B0825"], 3),
            [Level::StaffView, Level::DemographicsUpdate]
        );
        // R8000 Clinical Practitioner has B0825 by baseline even if CIS2 lists nothing.
        assert_eq!(
            levels("S8000:G8000:R8000", &[], 3),
            [Level::StaffView, Level::DemographicsUpdate]
        );
        // R8008 Admin/Clinical Support: view only.
        assert_eq!(levels("S8000:G8000:R8008", &[], 3), [Level::StaffView]);
    }

    #[test]
    fn a_role_without_a_demographics_activity_gets_nothing() {
        assert!(levels("S0:G0:R9999", &["B0570", "B0278"], 3).is_empty());
    }

    #[test]
    fn assurance_gates_sensitive_and_update_levels() {
        assert_eq!(
            levels("S0:G0:R9999", &["B0825", "B1611"], 2),
            [Level::StaffView]
        );
        assert_eq!(
            levels("S0:G0:R9999", &["B0825", "B1611"], 3),
            [
                Level::StaffView,
                Level::SensitiveView,
                Level::DemographicsUpdate
            ]
        );
        assert!(levels("S0:G0:R9999", &["B0820"], 1).is_empty());
    }

    #[test]
    fn demographic_administrators_hold_every_worker_level() {
        assert_eq!(
            levels("S0:G0:R5110", &[], 3),
            [
                Level::StaffView,
                Level::SensitiveView,
                Level::DemographicsUpdate,
                Level::DemographicsAdmin
            ]
        );
    }

    #[test]
    fn grants_are_the_union_of_levels() {
        let g = Grants::of(&[Level::StaffView, Level::DemographicsUpdate]);
        assert!(g.retrieve && g.update && g.create && !g.admin);
        assert_eq!(g.search_limit, 50);
        assert_eq!(g.clearance, Clearance::None);
        assert_eq!(
            Grants::of(&[Level::PrivilegedApp]).clearance,
            Clearance::Restricted
        );
        assert_eq!(Grants::of(&[]), Grants::default());
    }

    #[test]
    fn smart_scopes_only_narrow() {
        let full = Grants::of(&[
            Level::StaffView,
            Level::SensitiveView,
            Level::DemographicsUpdate,
        ]);
        let read_only = full.narrowed_by_smart_scopes(&["openid", "user/Patient.rs"], "user");
        assert!(read_only.retrieve && !read_only.update && !read_only.create);
        assert_eq!(read_only.search_limit, 50);
        let no_search = full.narrowed_by_smart_scopes(&["user/Patient.r"], "user");
        assert_eq!(no_search.search_limit, 0);
        // A scope for another kind of principal grants nothing.
        let wrong_kind = full.narrowed_by_smart_scopes(&["system/Patient.rs"], "user");
        assert!(!wrong_kind.retrieve);
        // No SMART scope at all: unchanged. A wider scope cannot add grants.
        assert_eq!(
            full.narrowed_by_smart_scopes(&["urn:nhsd:apim:x"], "user"),
            full
        );
        let app = Grants::of(&[Level::AppLookup])
            .narrowed_by_smart_scopes(&["system/Patient.cruds"], "system");
        assert!(!app.update && app.search_limit == 1);
    }
}
