//! The fixed permission catalogue and the roles that map onto it.
//!
//! | role   | permissions |
//! |--------|-------------|
//! | owner  | every permission, including `admin` |
//! | admin  | every permission except `admin` |
//! | member | `data:read`, `data:write`, `ai:use`, `jobs:read`, `jobs:write`, `members:read` |
//! | viewer | `data:read`, `jobs:read` |
//!
//! `admin` is the platform-wide permission (create organizations, change other
//! organizations' limits); only the bootstrap owner holds it by default.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "org:manage")]
    OrgManage,
    #[serde(rename = "members:manage")]
    MembersManage,
    #[serde(rename = "keys:manage")]
    KeysManage,
    #[serde(rename = "data:read")]
    DataRead,
    #[serde(rename = "data:write")]
    DataWrite,
    #[serde(rename = "ai:use")]
    AiUse,
    #[serde(rename = "jobs:read")]
    JobsRead,
    #[serde(rename = "jobs:write")]
    JobsWrite,
    #[serde(rename = "integrations:manage")]
    IntegrationsManage,
    #[serde(rename = "incidents:manage")]
    IncidentsManage,
    /// List an organization's members (e-mails, roles, permissions). Last, so the bit of
    /// every earlier permission stays where it was.
    #[serde(rename = "members:read")]
    MembersRead,
}

impl Permission {
    pub const ALL: [Permission; 12] = [
        Permission::Admin,
        Permission::OrgManage,
        Permission::MembersManage,
        Permission::KeysManage,
        Permission::DataRead,
        Permission::DataWrite,
        Permission::AiUse,
        Permission::JobsRead,
        Permission::JobsWrite,
        Permission::IntegrationsManage,
        Permission::IncidentsManage,
        Permission::MembersRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Admin => "admin",
            Permission::OrgManage => "org:manage",
            Permission::MembersManage => "members:manage",
            Permission::KeysManage => "keys:manage",
            Permission::DataRead => "data:read",
            Permission::DataWrite => "data:write",
            Permission::AiUse => "ai:use",
            Permission::JobsRead => "jobs:read",
            Permission::JobsWrite => "jobs:write",
            Permission::IntegrationsManage => "integrations:manage",
            Permission::IncidentsManage => "incidents:manage",
            Permission::MembersRead => "members:read",
        }
    }

    pub fn parse(text: &str) -> Option<Permission> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of permissions as a bit set: cheap to copy and to check on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PermissionSet(u32);

impl PermissionSet {
    pub const EMPTY: PermissionSet = PermissionSet(0);

    pub fn all() -> Self {
        Permission::ALL.into_iter().collect()
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn insert(&mut self, p: Permission) {
        self.0 |= p.bit();
    }

    pub fn union(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 | other.0)
    }

    /// True when every permission of `self` is also in `other`.
    pub fn is_subset_of(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The permissions of `self` that `other` lacks.
    pub fn minus(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 & !other.0)
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Permission::as_str).collect()
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut s = PermissionSet::EMPTY;
        for p in iter {
            s.insert(p);
        }
        s
    }
}

/// A member's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// The documented permission set of the role (see the module table).
    pub fn permissions(self) -> PermissionSet {
        use Permission::*;
        match self {
            Role::Owner => PermissionSet::all(),
            Role::Admin => PermissionSet::all().minus([Admin].into_iter().collect()),
            Role::Member => [DataRead, DataWrite, AiUse, JobsRead, JobsWrite, MembersRead]
                .into_iter()
                .collect(),
            Role::Viewer => [DataRead, JobsRead].into_iter().collect(),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_name_parses_back() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        assert_eq!(Permission::parse("data:delete"), None);
    }

    #[test]
    fn roles_map_to_documented_sets() {
        assert!(Role::Owner.permissions().contains(Permission::Admin));
        assert!(!Role::Admin.permissions().contains(Permission::Admin));
        assert!(Role::Admin.permissions().contains(Permission::KeysManage));
        assert!(!Role::Member.permissions().contains(Permission::KeysManage));
        assert!(Role::Member.permissions().contains(Permission::AiUse));
        assert!(Role::Member.permissions().contains(Permission::MembersRead));
        assert!(!Role::Viewer.permissions().contains(Permission::MembersRead));
        assert_eq!(
            Role::Viewer.permissions().names(),
            vec!["data:read", "jobs:read"]
        );
    }

    #[test]
    fn subset_and_difference_name_what_is_missing() {
        let member = Role::Member.permissions();
        let wanted: PermissionSet = [Permission::DataRead, Permission::KeysManage]
            .into_iter()
            .collect();
        assert!(!wanted.is_subset_of(member));
        assert_eq!(wanted.minus(member).names(), vec!["keys:manage"]);
    }
}
