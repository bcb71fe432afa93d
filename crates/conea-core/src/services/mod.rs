//! Domain services: the functions handlers and CLI commands call. Each takes the principal
//! (when acting for one), checks its permission, validates input, and talks to the stores.

pub mod accounts;
pub mod authn;
pub mod login_throttle;
pub mod sessions;

pub use accounts::AccountsService;
pub use authn::Authenticator;
pub use sessions::SessionService;
