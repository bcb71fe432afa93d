//! `GET /console/settings/limits` ([keys:manage] or [admin]): the organization's rate limit
//! and its keys' own limits, with forms to set them, and (for [admin]) the monthly AI token
//! budget. The forms post to the services the API's routes call, which check the same
//! permissions: `PUT /v1/rate-limits/keys/{id}` ([`RateLimitService::set_key_limit`]:
//! `keys:manage` up to the organization's limit), `PUT /v1/rate-limits/organizations/{id}`
//! (`set_org_limit`, admin) and `PUT /v1/ai/budgets/{org}` (`Gateway::set_budget`, admin).
//!
//! [`RateLimitService::set_key_limit`]: conea_core::ratelimit::service::RateLimitService::set_key_limit

use crate::console::ctx::{html, see_other, Ctx, Failure, OrFail, Signed};
use crate::console::i18n::{self, T};
use crate::console::layout;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use conea_core::permissions::Permission;
use conea_core::ratelimit::PolicySource;
use conea_core::CoreError;
use maud::html;
use serde::Deserialize;

pub const PATH: &str = "/console/settings/limits";

#[derive(Deserialize, Default)]
pub struct LimitsQuery {
    pub done: Option<String>,
}

#[derive(Deserialize)]
pub struct LimitForm {
    /// Only for a key's limit.
    pub key_id: Option<String>,
    pub per_minute: String,
    pub burst: Option<String>,
}

#[derive(Deserialize)]
pub struct BudgetForm {
    pub monthly_tokens: String,
}

/// A whole number typed in a field (thousands separators allowed); empty is `None`.
fn number<T: std::str::FromStr>(field: &str, text: &str) -> Result<Option<T>, CoreError> {
    let t: String = text.trim().chars().filter(|c| *c != ',').collect();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| CoreError::invalid(field, format!("{field} must be a whole number.")))
}

fn per_minute(text: &str) -> Result<u32, CoreError> {
    number(PER_MINUTE, text)?
        .ok_or_else(|| CoreError::invalid(PER_MINUTE, "per_minute is required."))
}

const PER_MINUTE: &str = "per_minute";

fn limit_fields(
    ctx: &Ctx,
    prefix: &str,
    per_minute: Option<u32>,
    burst: Option<u32>,
) -> maud::Markup {
    let value = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
    html! {
        label for={ (prefix) "-per-minute" } { (ctx.t(T::PerMinute))
            input id={ (prefix) "-per-minute" } name="per_minute" type="number" min="1" max="1000000" required inputmode="numeric" value=(value(per_minute));
        }
        label for={ (prefix) "-burst" } { (ctx.t(T::Burst))
            input id={ (prefix) "-burst" } name="burst" type="number" min="1" max="1000000" inputmode="numeric" title=(ctx.t(T::BurstHint)) value=(value(burst));
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Query(q): Query<LimitsQuery>,
) -> Result<Response, Failure> {
    let p = &m.principal;
    let limits = state.limits().limits_of(p).await.or_fail(&ctx)?;
    let admin = p.has(Permission::Admin);
    let budget = if admin {
        Some(
            state
                .platform()
                .ai
                .budget(p, p.org_id.as_str())
                .await
                .or_fail(&ctx)?,
        )
    } else {
        None
    };
    let keys = state.accounts().list_keys(p).await.or_fail(&ctx)?;
    let key_name = |id: &str| {
        keys.iter()
            .find(|k| k.id.as_str() == id)
            .map(|k| k.name.clone())
            .unwrap_or_else(|| id.to_owned())
    };
    let tz = ctx.tz.clone();
    let notice = match q.done.as_deref() {
        Some("limit") => Some(T::LimitSaved),
        Some("budget") => Some(T::BudgetSaved),
        _ => None,
    };
    let org = limits.org;
    let body = html! {
        @if let Some(n) = notice { p class="notice" role="status" { (ctx.t(n)) } }
        section aria-labelledby="rate-limits" {
            h2 id="rate-limits" { (ctx.t(T::RateLimits)) }
            dl class="facts" id="org-limit" {
                dt { (ctx.t(T::PerMinute)) } dd { (i18n::int(org.limit.into())) }
                dt { (ctx.t(T::Burst)) } dd { (i18n::int(org.burst.into())) }
                dt { (ctx.t(T::LimitSource)) } dd data-source=(org.source.as_str()) {
                    @if org.source == PolicySource::Organization { (ctx.t(T::SourceOverride)) } @else { (ctx.t(T::SourceDefault)) }
                }
            }
            @if admin {
                form class="filters card" method="post" action={ (PATH) "/org" } aria-label=(ctx.t(T::OrgLimit)) {
                    (layout::csrf(&m))
                    (limit_fields(&ctx, "org", Some(org.limit), Some(org.burst)))
                    button type="submit" { (ctx.t(T::SetLimit)) }
                }
            }
            h3 { (ctx.t(T::KeyLimits)) }
            @if limits.keys.is_empty() {
                p class="muted" { (ctx.t(T::NoKeyLimits)) }
            } @else {
                div class="scroll" { table id="key-limits" {
                    thead { tr {
                        th scope="col" { (ctx.t(T::ApiKey)) }
                        th scope="col" class="num" { (ctx.t(T::PerMinute)) }
                        th scope="col" class="num" { (ctx.t(T::Burst)) }
                        th scope="col" class="hide-narrow" { (ctx.t(T::Updated)) }
                    } }
                    tbody { @for o in &limits.keys {
                        tr data-key=(o.subject_id) {
                            td { (key_name(&o.subject_id)) }
                            td class="num" { (i18n::int(o.per_minute.into())) }
                            td class="num" { (i18n::int(o.burst.unwrap_or(o.per_minute).into())) }
                            td class="hide-narrow" { (i18n::instant(ctx.lang, &tz, o.updated_at)) }
                        }
                    } }
                } }
            }
            @let active: Vec<_> = keys.iter().filter(|k| k.revoked_at.is_none()).collect();
            @if !active.is_empty() {
                form class="filters card" method="post" action={ (PATH) "/keys" } aria-label=(ctx.t(T::KeyLimits)) {
                    (layout::csrf(&m))
                    label for="limit-key" { (ctx.t(T::ApiKey))
                        select id="limit-key" name="key_id" required {
                            @for k in &active { option value=(k.id.as_str()) { (k.name) } }
                        }
                    }
                    (limit_fields(&ctx, "key", None, None))
                    button type="submit" { (ctx.t(T::SetLimit)) }
                }
            }
        }
        @if let Some(b) = budget {
            section aria-labelledby="ai-budget" {
                h2 id="ai-budget" { (ctx.t(T::AiBudget)) }
                dl class="facts" id="budget" {
                    dt { (ctx.t(T::MonthlyTokens)) }
                    dd id="budget-tokens" { @match b.monthly_tokens { Some(t) => (i18n::int(t)), None => (ctx.t(T::NoBudget)) } }
                    dt { (ctx.t(T::UsedThisMonth)) } dd { (i18n::int(b.used_this_month)) }
                }
                form class="filters card" method="post" action={ (PATH) "/budget" } aria-label=(ctx.t(T::AiBudget)) {
                    (layout::csrf(&m))
                    label for="monthly-tokens" { (ctx.t(T::MonthlyTokens))
                        input id="monthly-tokens" name="monthly_tokens" type="number" min="0" inputmode="numeric" aria-describedby="monthly-tokens-hint" value=(b.monthly_tokens.map(|t| t.to_string()).unwrap_or_default());
                    }
                    button type="submit" { (ctx.t(T::Save)) }
                    span class="muted" id="monthly-tokens-hint" { (ctx.t(T::MonthlyTokensHint)) }
                }
            }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&ctx, &m, ctx.t(T::NavLimits), body),
    ))
}

/// `POST /console/settings/limits/org` [admin]: the organization's limit.
pub async fn set_org(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Form(f): Form<LimitForm>,
) -> Result<Response, Failure> {
    let p = &m.principal;
    let per = per_minute(&f.per_minute).or_fail(&ctx)?;
    let burst = number("burst", f.burst.as_deref().unwrap_or("")).or_fail(&ctx)?;
    state
        .limits()
        .set_org_limit(Some(p), p.org_id.as_str(), per, burst)
        .await
        .or_fail(&ctx)?;
    Ok(see_other(&format!("{PATH}?done=limit")))
}

/// `POST /console/settings/limits/keys` [keys:manage up to the organization's limit, else
/// admin]: a key's own limit.
pub async fn set_key(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Form(f): Form<LimitForm>,
) -> Result<Response, Failure> {
    let key = f.key_id.as_deref().unwrap_or("");
    let per = per_minute(&f.per_minute).or_fail(&ctx)?;
    let burst = number("burst", f.burst.as_deref().unwrap_or("")).or_fail(&ctx)?;
    state
        .limits()
        .set_key_limit(Some(&m.principal), key, per, burst)
        .await
        .or_fail(&ctx)?;
    Ok(see_other(&format!("{PATH}?done=limit")))
}

/// `POST /console/settings/limits/budget` [admin]: the monthly AI token budget; empty
/// removes it.
pub async fn set_budget(
    State(state): State<AppState>,
    Signed(ctx, m): Signed,
    Form(f): Form<BudgetForm>,
) -> Result<Response, Failure> {
    let p = &m.principal;
    let tokens = number("monthly_tokens", &f.monthly_tokens).or_fail(&ctx)?;
    state
        .platform()
        .ai
        .set_budget(Some(p), p.org_id.as_str(), tokens)
        .await
        .or_fail(&ctx)?;
    Ok(see_other(&format!("{PATH}?done=budget")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_numbers_allow_thousands_separators_and_refuse_other_text() {
        assert_eq!(number::<i64>("n", " 1,000,000 ").unwrap(), Some(1_000_000));
        assert_eq!(number::<i64>("n", "").unwrap(), None);
        assert!(number::<u32>("n", "-5").is_err());
        assert!(number::<u32>("n", "ten").is_err());
        assert!(per_minute("").is_err());
    }
}
