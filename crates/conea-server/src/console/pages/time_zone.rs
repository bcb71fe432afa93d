//! `GET /console/time-zone` (any member): the time zone the console shows dates in and
//! counts days by, and where it comes from — the browser's (sent by the console's script)
//! unless the member picks one here. `POST /console/time-zone` remembers the pick for a
//! year (cookie `conea_tz_pick`) or, with `zone=auto`, forgets it; then goes back.

use crate::console::ctx::{
    console_path, html, see_other, with_cookie, Failure, Signed, TzSource, TZ_PICK_COOKIE,
};
use crate::console::i18n::T;
use crate::console::layout;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use conea_core::CoreError;
use maud::html;
use serde::Deserialize;
use std::sync::OnceLock;

pub use crate::console::ctx::TIME_ZONE_PATH as PATH;

/// The form's value for "the browser's zone".
const AUTOMATIC: &str = "auto";

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    pub back: Option<String>,
}

#[derive(Deserialize)]
pub struct PickForm {
    pub zone: String,
    pub back: Option<String>,
}

/// The zones offered: the tz database's region/city names (not its legacy aliases such as
/// `US/Eastern` or `Etc/GMT+9`), and UTC, sorted.
fn zones() -> &'static [String] {
    static ZONES: OnceLock<Vec<String>> = OnceLock::new();
    ZONES.get_or_init(|| {
        const REGIONS: [&str; 9] = [
            "Africa/",
            "America/",
            "Antarctica/",
            "Asia/",
            "Atlantic/",
            "Australia/",
            "Europe/",
            "Indian/",
            "Pacific/",
        ];
        let mut names: Vec<String> = jiff::tz::db()
            .available()
            .map(|n| n.to_string())
            .filter(|n| REGIONS.iter().any(|r| n.starts_with(r)))
            .collect();
        names.push("UTC".to_owned());
        names.sort();
        names.dedup();
        names
    })
}

pub async fn show(Signed(ctx, m): Signed, Query(q): Query<ShowQuery>) -> Response {
    let back = console_path(q.back);
    let source = match ctx.tz_source {
        TzSource::Chosen => T::TzFromChoice,
        TzSource::Browser => T::TzFromBrowser,
        TzSource::Default => T::TzFromDefault,
    };
    let chosen = ctx.tz_source == TzSource::Chosen;
    let body = html! {
        p class="muted" { (ctx.t(T::TzIntro)) }
        p { (ctx.t(T::TzCurrent)) ": " strong id="current-tz" data-source=(source_code(ctx.tz_source)) { (ctx.tz_name) } " (" (ctx.t(source)) ")" }
        form class="stack card" method="post" action=(PATH) aria-label=(ctx.t(T::TimeZone)) {
            (layout::csrf(&m))
            input type="hidden" name="back" value=(back);
            label for="zone" { (ctx.t(T::TimeZone))
                select id="zone" name="zone" {
                    option value=(AUTOMATIC) selected[!chosen] { (ctx.t(T::TzAutomatic)) }
                    @for z in zones() {
                        option value=(z) selected[chosen && *z == ctx.tz_name] { (z) }
                    }
                }
            }
            button type="submit" { (ctx.t(T::Save)) }
        }
    };
    html(
        StatusCode::OK,
        layout::page(&ctx, &m, ctx.t(T::TimeZone), body),
    )
}

fn source_code(s: TzSource) -> &'static str {
    match s {
        TzSource::Chosen => "chosen",
        TzSource::Browser => "browser",
        TzSource::Default => "default",
    }
}

/// Remembers the picked zone (or forgets it for `auto`) and goes back to the page the
/// member came from, now in that zone.
pub async fn pick(Signed(ctx, _m): Signed, Form(f): Form<PickForm>) -> Result<Response, Failure> {
    let zone = f.zone.trim();
    let back = console_path(f.back);
    let cookie = if zone == AUTOMATIC {
        ctx.cookie(TZ_PICK_COOKIE, "", 0)
    } else if zones().iter().any(|z| z == zone) {
        ctx.cookie(TZ_PICK_COOKIE, zone, 365 * 24 * 3600)
    } else {
        return Err(ctx.fail(CoreError::invalid(
            "zone",
            format!("`{zone}` is not a time zone: pick one of the list (an IANA name such as Asia/Tokyo) or `{AUTOMATIC}`."),
        )));
    };
    Ok(with_cookie(see_other(&back), &cookie))
}
