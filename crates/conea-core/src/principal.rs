//! Who is calling: the authenticated principal every handler receives.

use crate::clock::EpochMs;
use crate::error::CoreError;
use crate::ids::OrgId;
use crate::permissions::{Permission, PermissionSet, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    ApiKey,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::ApiKey => "api_key",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// `usr_…` for users, `key_…` for API keys.
    pub subject: String,
    pub org_id: OrgId,
    /// The user's role in the organization; for a key, the role of its creator if any.
    pub role: Option<Role>,
    pub permissions: PermissionSet,
    pub issued_at: Option<EpochMs>,
    pub expires_at: Option<EpochMs>,
}

impl Principal {
    /// Authorization: the one check every protected operation calls.
    pub fn require(&self, permission: Permission) -> Result<(), CoreError> {
        if self.permissions.contains(permission) {
            Ok(())
        } else {
            Err(CoreError::Forbidden {
                required: permission,
                granted: self.permissions,
            })
        }
    }

    /// Every permission of `wanted`: the subset rule for handing out permissions and for
    /// acting on another key (the 403 names the first one missing).
    pub fn require_all(&self, wanted: PermissionSet) -> Result<(), CoreError> {
        match wanted.minus(self.permissions).iter().next() {
            None => Ok(()),
            Some(required) => Err(CoreError::Forbidden {
                required,
                granted: self.permissions,
            }),
        }
    }

    pub fn has(&self, permission: Permission) -> bool {
        self.permissions.contains(permission)
    }

    /// Resources of another organization are invisible unless the caller is a platform admin.
    pub fn can_see_org(&self, org: &OrgId) -> bool {
        &self.org_id == org || self.has(Permission::Admin)
    }
}
