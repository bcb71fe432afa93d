//! Management commands acting on the configured database directly: orgs, users, members,
//! keys and grants. They call the same services as the HTTP API, without a principal (the
//! operator at the shell is trusted like a database administrator).

use crate::cli::{GrantArgs, KeysCommand, MembersCommand, OrgsCommand, UsersCommand};
use crate::context::open;
use anyhow::{anyhow, bail, Context, Result};
use conea_core::clock::{parse_rfc3339, rfc3339};
use conea_core::ids::UserId;
use conea_core::permissions::{Permission, PermissionSet, Role};
use conea_core::services::accounts::NewUser;
use conea_server::Platform;
use serde_json::json;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

fn role(text: &str) -> Result<Role> {
    Role::parse(text)
        .ok_or_else(|| anyhow!("`{text}` is not a role: use owner, admin, member or viewer"))
}

fn permission(text: &str) -> Result<Permission> {
    Permission::parse(text).ok_or_else(|| {
        anyhow!(
            "`{text}` is not a permission; known: {}",
            PermissionSet::all().names().join(", ")
        )
    })
}

async fn user_id(p: &Platform, user: &str) -> Result<UserId> {
    if let Ok(id) = UserId::parse(user) {
        return Ok(id);
    }
    Ok(p.accounts.user_by_email(user).await?.id)
}

pub async fn orgs(file: Option<&Path>, command: OrgsCommand) -> Result<ExitCode> {
    let p = open(file).await?;
    match command {
        OrgsCommand::Create { slug, name } => {
            let org = p.accounts.create_org(None, &slug, name.as_deref()).await?;
            println!("{}", org.id);
            eprintln!("created organization `{}` ({})", org.slug, org.name);
        }
        OrgsCommand::List { json } => {
            let orgs = p.accounts.list_orgs().await?;
            if json {
                let rows: Vec<_> = orgs
                    .iter()
                    .map(|o| json!({"id": o.id, "slug": o.slug, "name": o.name, "created_at": rfc3339(o.created_at)}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<36}  {:<20}  {:<20}  CREATED", "ID", "SLUG", "NAME");
                for o in orgs {
                    println!(
                        "{:<36}  {:<20}  {:<20}  {}",
                        o.id,
                        o.slug,
                        o.name,
                        rfc3339(o.created_at)
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn password_from_stdin(example: &str) -> Result<String> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!(
            "no password on standard input (e.g. `echo \"$PASSWORD\" | conea users {example} ...`)"
        );
    }
    Ok(password)
}

pub async fn users(file: Option<&Path>, command: UsersCommand) -> Result<ExitCode> {
    let (org, email, r, name) = match command {
        UsersCommand::Create {
            org,
            email,
            role,
            name,
        } => (org, email, role, name),
        UsersCommand::SetPassword { email } => {
            let password = password_from_stdin("set-password")?;
            let p = open(file).await?;
            let user = p.accounts.user_by_email(&email).await?;
            p.accounts.set_password(&user.id, &password).await?;
            eprintln!(
                "set the password of {}; their console sessions ended",
                user.email
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    let role = role(&r)?;
    let password = password_from_stdin("create")?;
    let p = open(file).await?;
    let org = p.accounts.org_by_slug(&org).await?;
    let (user, member) = p
        .accounts
        .create_user(
            None,
            &org.id,
            NewUser {
                email,
                password,
                name,
                role,
            },
        )
        .await?;
    println!("{}", user.id);
    eprintln!(
        "created user {} as {} of `{}`",
        user.email, member.role, org.slug
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn members(file: Option<&Path>, command: MembersCommand) -> Result<ExitCode> {
    let MembersCommand::SetRole { org, user, role: r } = command;
    let role = role(&r)?;
    let p = open(file).await?;
    let org = p.accounts.org_by_slug(&org).await?;
    let uid = user_id(&p, &user).await?;
    let m = p
        .accounts
        .set_member_role(None, org.id.as_str(), uid.as_str(), role)
        .await?;
    println!("{} is now {} of `{}`", m.email, m.role, org.slug);
    Ok(ExitCode::SUCCESS)
}

pub async fn keys(file: Option<&Path>, command: KeysCommand) -> Result<ExitCode> {
    match command {
        KeysCommand::Create {
            org,
            name,
            permissions,
            expires_at,
        } => {
            let set = permissions
                .iter()
                .map(|t| permission(t))
                .collect::<Result<PermissionSet>>()?;
            let expires = expires_at
                .as_deref()
                .map(|t| parse_rfc3339(t).ok_or_else(|| anyhow!("--expires-at `{t}` is not an RFC 3339 time such as 2027-01-01T00:00:00Z")))
                .transpose()?;
            let p = open(file).await?;
            let org = p.accounts.org_by_slug(&org).await?;
            let created = p
                .accounts
                .create_key(None, &org.id, &name, set, expires)
                .await?;
            println!("{}", created.secret);
            eprintln!(
                "created key {} `{}` in `{}` with permissions [{}]; the secret above is shown only once",
                created.key.id,
                created.key.name,
                org.slug,
                created.key.permissions.names().join(", ")
            );
        }
        KeysCommand::List { org, json } => {
            let p = open(file).await?;
            let org = p.accounts.org_by_slug(&org).await?;
            let keys = p.accounts.list_keys_of(&org.id).await?;
            if json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        json!({
                            "id": k.id, "name": k.name, "prefix": k.prefix,
                            "permissions": k.permissions.names(),
                            "created_at": rfc3339(k.created_at),
                            "expires_at": k.expires_at.map(rfc3339),
                            "revoked_at": k.revoked_at.map(rfc3339),
                            "last_used_at": k.last_used_at.map(rfc3339),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<36}  {:<14}  {:<24}  {:<8}  PERMISSIONS",
                    "ID", "PREFIX", "NAME", "STATE"
                );
                for k in keys {
                    let state = if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!(
                        "{:<36}  {:<14}  {:<24}  {:<8}  {}",
                        k.id,
                        k.prefix,
                        k.name,
                        state,
                        k.permissions.names().join(",")
                    );
                }
            }
        }
        KeysCommand::Revoke { id } => {
            let p = open(file).await?;
            let k = p.accounts.revoke_key(None, &id).await?;
            println!(
                "revoked {} `{}` at {}",
                k.id,
                k.name,
                k.revoked_at.map(rfc3339).unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn grant(file: Option<&Path>, args: GrantArgs) -> Result<ExitCode> {
    let perm = permission(&args.permission)?;
    let p = open(file).await?;
    match (args.user, args.key) {
        (Some(user), None) => {
            let uid = user_id(&p, &user).await?;
            let org = match args.org {
                Some(slug) => p.accounts.org_by_slug(&slug).await?.id,
                None => p.accounts.default_org_of(&uid).await?,
            };
            p.accounts.grant_user_permission(&org, &uid, perm).await?;
            println!("granted {perm} to {user}");
        }
        (None, Some(key)) => {
            p.accounts.grant_key_permission(&key, perm).await?;
            println!("granted {perm} to {key}");
        }
        _ => bail!("give exactly one of --user or --key"),
    }
    Ok(ExitCode::SUCCESS)
}
