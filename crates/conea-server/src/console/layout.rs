//! The page shell: `<header>` (name, language switch, sign-out), `<nav>` with only the
//! pages the member may open, `<main>`. Every form carries the session's CSRF token.

use super::assets;
use super::ctx::{Ctx, Member, CSRF_FIELD};
use super::i18n::{Lang, T};
use conea_core::permissions::Permission;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The pages of the navigation, each with the permission it needs.
/// (link, the paths it covers, label, permission).
pub const PAGES: [(&str, &str, T, Permission); 11] = [
    ("/console", "/console", T::NavOverview, Permission::DataRead),
    ("/console/ask", "/console/ask", T::NavAsk, Permission::AiUse),
    (
        "/console/data/orders",
        "/console/data",
        T::NavData,
        Permission::DataRead,
    ),
    (
        "/console/reports",
        "/console/reports",
        T::NavReports,
        Permission::DataRead,
    ),
    (
        "/console/jobs",
        "/console/jobs",
        T::NavJobs,
        Permission::JobsRead,
    ),
    (
        "/console/incidents",
        "/console/incidents",
        T::NavIncidents,
        Permission::IncidentsManage,
    ),
    (
        "/console/shopify",
        "/console/shopify",
        T::NavShopify,
        Permission::IntegrationsManage,
    ),
    (
        "/console/operations",
        "/console/operations",
        T::NavOperations,
        Permission::OrgManage,
    ),
    (
        "/console/settings/keys",
        "/console/settings/keys",
        T::NavSettings,
        Permission::KeysManage,
    ),
    (
        "/console/settings/limits",
        "/console/settings/limits",
        T::NavLimits,
        Permission::KeysManage,
    ),
    (
        "/console/settings/members",
        "/console/settings/members",
        T::NavMembers,
        Permission::MembersRead,
    ),
];

/// The hidden CSRF field of a member's form.
pub fn csrf(m: &Member) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(m.csrf); }
}

fn head(ctx: &Ctx, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · " (ctx.t(T::AppName)) }
            link rel="stylesheet" href=(assets::CSS.path());
            script src=(assets::JS.path()) defer {}
        }
    }
}

/// Links to the other language: `GET /console/lang?to=ja&back=…` remembers the choice in
/// a cookie and comes back.
fn lang_switch(ctx: &Ctx) -> Markup {
    let back: String = url::form_urlencoded::byte_serialize(ctx.path.as_bytes()).collect();
    html! {
        span aria-label=(ctx.t(T::Language)) {
            @for l in Lang::ALL {
                @if l == ctx.lang {
                    span class="muted" lang=(l.code()) { (l.name()) }
                } @else {
                    a href={ "/console/lang?to=" (l.code()) "&back=" (back) } lang=(l.code()) hreflang=(l.code()) { (l.name()) }
                }
                " "
            }
        }
    }
}

/// A page of a signed-in member.
/// A labelled date field in the page's language: shown and typed as the language writes
/// days (`12/04/2026`, `2026/12/04`; see [`super::i18n::day_from_field`] for what it reads),
/// not the browser's locale as `type=date` would. `ymd` is the `YYYY-MM-DD` value.
pub fn date_field(ctx: &Ctx, id: &str, name: &str, label: T, ymd: &str) -> Markup {
    html! {
        label for=(id) { (ctx.t(label))
            input id=(id) name=(name) type="text" inputmode="numeric" autocomplete="off" size="10"
                placeholder=(super::i18n::day_field_format(ctx.lang)) title=(ctx.t(T::DateFieldHint))
                value=(super::i18n::day_field(ctx.lang, ymd));
        }
    }
}

pub fn page(ctx: &Ctx, m: &Member, title: &str, body: Markup) -> Markup {
    page_with(ctx, m, title, None, body)
}

/// A page that reloads itself every `refresh_s` seconds (with the script).
pub fn page_with(
    ctx: &Ctx,
    m: &Member,
    title: &str,
    refresh_s: Option<u32>,
    body: Markup,
) -> Markup {
    let role = m
        .principal
        .role
        .map(|r| ctx.t(super::i18n::role_label(r)))
        .unwrap_or("");
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            (head(ctx, title))
            body {
                a class="skip" href="#main" { (ctx.t(T::SkipToContent)) }
                header {
                    a href="/console" { (ctx.t(T::AppName)) }
                    (lang_switch(ctx))
                    form method="post" action="/console/logout" {
                        (csrf(m))
                        span class="muted" { (ctx.t(T::SignedInAs)) " " (role) }
                        " " a class="muted" id="member-tz" title=(ctx.t(T::TimeZone)) href={ (super::ctx::TIME_ZONE_PATH) "?back=" (ctx.path) } { (ctx.tz_name) }
                        button type="submit" class="secondary" { (ctx.t(T::SignOut)) }
                    }
                }
                nav aria-label=(ctx.t(T::MainNav)) {
                    ul {
                        @for (href, covers, label, needs) in PAGES {
                            @if m.principal.has(needs) {
                                @let current = if href == "/console" { ctx.path == href } else { ctx.path.starts_with(covers) };
                                li { a href=(href) aria-current=[current.then_some("page")] { (ctx.t(label)) } }
                            }
                        }
                    }
                }
                main id="main" data-refresh=[refresh_s] {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page without navigation (sign-in, errors).
pub fn bare(ctx: &Ctx, title: &str, message: &str) -> Markup {
    bare_with(
        ctx,
        title,
        html! { p class="notice error" role="alert" { (message) } p { a href="/console" { (ctx.t(T::Back)) } } },
    )
}

pub fn bare_with(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            (head(ctx, title))
            body {
                header {
                    a href="/console" { (ctx.t(T::AppName)) }
                    (lang_switch(ctx))
                }
                main id="main" class="login" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A figure with its change against the previous period.
pub fn figure(label: &str, value: &str, change: Option<f64>) -> Markup {
    html! {
        div class="figure" {
            span class="muted" { (label) }
            b { (value) }
            @if let Some(p) = change {
                span class=(if p >= 0.0 { "up" } else { "down" }) { (super::i18n::percent(p)) }
            }
        }
    }
}

/// Raw SVG markup made by the chart module.
pub fn svg(markup: String) -> Markup {
    PreEscaped(markup)
}
