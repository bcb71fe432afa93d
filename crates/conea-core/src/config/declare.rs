//! The `settings!` macro: one entry per setting declares its typed field, environment
//! variable, TOML key, default, secrecy, parser and help. From that one list come
//!
//! - `SETTINGS`, the table `conea config check`, `conea config table` and the README use;
//! - `var::NAME`, a constant per variable name, so that a misspelt name is a compile error;
//! - `Settings`, every setting parsed to its type (`Option<T>` when it has no default);
//! - `Parsed::read`, the loading (environment > file > default, in table order) that
//!   reports each unparsable value as a problem naming its variable.
//!
//! An entry reads
//! `field: Type = ENV_NAME [secret], toml "a.b", default "x", parse parser_fn, help "…";`
//! (`[secret]` and `default …,` are optional)
//! where `parser_fn(&str) -> Result<Type, E>` gets the trimmed, non-empty text and
//! `E: Into<Rejected>` (a `String` for one message).

use super::{Problem, RawSettings};

/// What a setting's table row says about it.
#[derive(Debug)]
pub struct Setting {
    pub env: &'static str,
    /// Dotted path in the TOML file (`[server] bind` is `server.bind`).
    pub toml: &'static str,
    pub default: Option<&'static str>,
    pub secret: bool,
    pub help: &'static str,
}

/// Why a value was rejected: one message per problem (most parsers have exactly one).
pub struct Rejected(pub Vec<String>);

impl From<String> for Rejected {
    fn from(message: String) -> Self {
        Rejected(vec![message])
    }
}

/// The field's type: `T` when the setting has a default, otherwise `Option<T>`.
macro_rules! setting_type {
    ($t:ty, $default:expr) => { $t };
    ($t:ty) => { Option<$t> };
}

/// The finished field: a defaulted setting must have parsed (else the loader returns its
/// problem); one without a default stays optional.
macro_rules! setting_value {
    ($v:expr, $default:expr) => {
        $v?
    };
    ($v:expr) => {
        $v
    };
}

/// `[secret]` after the variable name marks a secret (redacted by `conea config check`).
macro_rules! is_secret {
    () => {
        false
    };
    (secret) => {
        true
    };
}

macro_rules! optional {
    () => {
        None
    };
    ($v:expr) => {
        Some($v)
    };
}

macro_rules! settings {
    ($(
        $field:ident: $t:ty = $env:ident $([$secret:ident])?, toml $toml:literal,
        $(default $default:expr,)? parse $parse:expr, help $help:literal;
    )*) => {
        /// Every setting, in the order of the README table.
        pub const SETTINGS: &[Setting] = &[$(
            Setting {
                env: stringify!($env),
                toml: $toml,
                default: optional!($($default)?),
                secret: is_secret!($($secret)?),
                help: $help,
            },
        )*];

        /// The variable names as constants: use `var::JWT_SECRET`, never a string.
        #[allow(dead_code)]
        pub mod var {
            $(pub const $env: &str = stringify!($env);)*
        }

        /// Every setting parsed to its type (the `ai.*` ones stay text: `conea-ai`
        /// validates them).
        #[derive(Debug, Clone)]
        pub struct Settings {
            $(pub $field: setting_type!($t $(, $default)?),)*
        }

        /// Every setting as parsed so far: `None` where unset or rejected.
        pub(crate) struct Parsed {
            $(pub $field: Option<$t>,)*
        }

        impl Parsed {
            /// Parses every setting in table order, adding a problem per rejected value.
            pub(crate) fn read(raw: &RawSettings, problems: &mut Vec<Problem>) -> Parsed {
                Parsed {
                    $($field: read(raw, var::$env, $parse, problems),)*
                }
            }

            /// The typed settings, or `None` when a setting with a default was rejected.
            pub(crate) fn finish(self) -> Option<Settings> {
                Some(Settings {
                    $($field: setting_value!(self.$field $(, $default)?),)*
                })
            }
        }
    };
}

/// One setting's value: its trimmed text parsed, `None` when unset; a rejected value adds
/// its problems, each naming `env`.
pub(crate) fn read<T, E: Into<Rejected>>(
    raw: &RawSettings,
    env: &'static str,
    parse: impl FnOnce(&str) -> Result<T, E>,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let text = raw.get(env).map(str::trim).filter(|v| !v.is_empty())?;
    match parse(text) {
        Ok(value) => Some(value),
        Err(rejected) => {
            let Rejected(messages) = rejected.into();
            problems.extend(messages.into_iter().map(|message| Problem {
                setting: env,
                message,
            }));
            None
        }
    }
}
