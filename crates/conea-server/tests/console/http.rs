//! The console over plain HTTP (no browser): cookies, headers, CSRF, permissions and the
//! ends of a session, on both storage backends.

use crate::fixture::{escalation_policy, seeded, seeded_with, Web, ADMIN, PASSWORD, VIEWER};
use conea_core::ids::UserId;
use conea_testkit::{backend_tests, Backend};

backend_tests!(
    a_browser_at_the_root_goes_to_the_console_and_an_api_client_gets_404,
    sign_in_sets_a_strict_http_only_session_cookie_and_pages_are_locked_down,
    a_wrong_password_is_refused_and_a_signed_out_session_no_longer_opens_pages,
    a_post_without_the_csrf_token_is_refused_with_403,
    a_viewer_sees_no_cancel_button_and_is_refused_when_posting_it,
    removal_from_the_organization_and_a_password_change_end_the_sessions,
    every_page_renders_with_the_imported_data_in_both_languages,
    assets_have_content_hashed_paths_long_caching_and_gzip,
    an_admin_acknowledges_and_resolves_an_incident_and_a_viewer_cannot_open_the_page,
    the_shopify_page_lists_a_connected_shop_and_sync_now_enqueues_its_sync,
    a_shop_is_connected_from_the_shopify_page_through_shopifys_consent,
    an_incident_page_takes_notes_and_escalates_and_a_viewer_is_refused_both,
    schedules_are_created_edited_and_disabled_and_a_viewer_only_runs_reports,
    an_uploaded_file_is_imported_and_its_status_page_follows_the_job,
    members_get_a_new_role_and_removal_ends_their_sessions_and_a_member_cannot_do_either,
    a_viewer_without_ai_use_has_no_ask_page_and_is_refused_when_asking,
    date_fields_show_and_read_days_in_the_pages_language,
    the_product_chart_names_its_products_not_their_shop,
    budgets_and_rate_limits_are_set_with_the_permissions_of_their_api_routes,
    a_question_streams_its_tool_calls_text_and_rendered_answer_as_server_sent_events,
    dates_are_shown_in_the_members_time_zone_from_its_cookie,
    a_picked_time_zone_wins_over_the_browsers_until_set_back_to_automatic,
    the_operations_page_shows_the_process_limits_and_slow_statements_with_what_to_do,
    the_overview_stays_warm_until_this_process_writes_the_shops_data,
    with_no_time_to_live_the_overview_is_computed_on_every_request,
);

/// The Overview's period end, as its `to` field shows it.
fn period_end(page: &str) -> String {
    let field = page
        .find("id=\"to\"")
        .unwrap_or_else(|| panic!("no `to` field in {page}"));
    let value = &page[field..];
    let start = value.find("value=\"").expect("its value") + "value=\"".len();
    let len = value[start..].find('"').expect("the value's end");
    value[start..start + len].to_owned()
}

async fn the_overview_stays_warm_until_this_process_writes_the_shops_data(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let first = web.get("/console").await;
    assert_eq!(first.status, 200, "{}", first.text);
    let first = period_end(&first.text);
    s.app
        .clock
        .advance(std::time::Duration::from_secs(3 * 86_400));
    // The session's idle time ran out with the days: a new one, same organization.
    web.sign_in(ADMIN).await;
    assert_eq!(
        period_end(&web.get("/console").await.text),
        first,
        "served warm: the period as computed three (fake) days ago"
    );
    let order = crate::fixture::order(&s.app, 9100, 0, "500", 1).to_string();
    crate::fixture::import(&s.app, "orders", order + "\n").await;
    assert_ne!(
        period_end(&web.get("/console").await.text),
        first,
        "an import by this process computes the Overview afresh"
    );
}

async fn with_no_time_to_live_the_overview_is_computed_on_every_request(b: Backend) {
    let Some(s) = seeded_with(b, &[("CONEA_CONSOLE_OVERVIEW_TTL", "0s")]).await else {
        return;
    };
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let first = period_end(&web.get("/console").await.text);
    s.app
        .clock
        .advance(std::time::Duration::from_secs(3 * 86_400));
    // The session's idle time ran out with the days: a new one, same organization.
    web.sign_in(ADMIN).await;
    assert_ne!(period_end(&web.get("/console").await.text), first);
}

async fn dates_are_shown_in_the_members_time_zone_from_its_cookie(b: Backend) {
    use conea_core::Clock;
    let Some(s) = seeded(b).await else { return };
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    // The fixture's job was created at the clock's now.
    let now = jiff::Timestamp::from_millisecond(s.app.clock.now_ms()).unwrap();
    let time = |zone: &str| {
        let z = jiff::tz::TimeZone::get(zone).unwrap().to_datetime(now);
        format!("{:02}:{:02}", z.hour(), z.minute())
    };
    let utc = web.get("/console/jobs").await;
    assert!(utc.text.contains(&time("UTC")), "{}", utc.text);
    assert!(utc.text.contains("id=\"member-tz\""));
    web.cookies.insert("conea_tz".into(), "Asia/Tokyo".into());
    let tokyo = web.get("/console/jobs").await;
    assert!(tokyo.text.contains(&time("Asia/Tokyo")), "{}", tokyo.text);
    assert!(!tokyo.text.contains(&time("UTC")), "not UTC any more");
    assert!(tokyo.text.contains(">Asia/Tokyo</a>"));
    // The overview's period is the member's days; a zone nobody knows is UTC.
    let overview = web.get("/console").await;
    assert_eq!(overview.status, 200, "{}", overview.text);
    web.cookies.insert("conea_tz".into(), "Mars/Base".into());
    let page = web.get("/console/jobs").await;
    assert!(page.text.contains(&time("UTC")) && page.text.contains(">UTC</a>"));
}

async fn a_picked_time_zone_wins_over_the_browsers_until_set_back_to_automatic(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let current = |page: &crate::fixture::Page| {
        let at = page
            .text
            .find("id=\"current-tz\"")
            .expect("current zone shown");
        page.text[at..page.text[at..].find("</strong>").unwrap() + at].to_owned()
    };
    let page = web.get("/console/time-zone?back=/console/jobs").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        current(&page).contains("data-source=\"default\">UTC"),
        "{}",
        current(&page)
    );
    assert!(page
        .text
        .contains("<option value=\"Asia/Tokyo\">Asia/Tokyo</option>"));
    assert!(page.text.contains("<option value=\"auto\" selected>"));
    web.cookies
        .insert("conea_tz".into(), "America/New_York".into());
    let page = web.get("/console/time-zone").await;
    assert!(current(&page).contains("data-source=\"browser\">America/New_York"));
    // The pick goes back where the member came from and wins over the browser's zone.
    let token = page.csrf();
    let r = web
        .post(
            "/console/time-zone",
            &[
                ("csrf", &token),
                ("zone", "Asia/Tokyo"),
                ("back", "/console/jobs"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.header("location"), "/console/jobs");
    assert!(r
        .header("set-cookie")
        .starts_with("conea_tz_pick=Asia/Tokyo;"));
    let jobs = web.get("/console/jobs").await;
    assert!(jobs.text.contains(">Asia/Tokyo</a>"), "{}", jobs.text);
    let page = web.get("/console/time-zone").await;
    assert!(current(&page).contains("data-source=\"chosen\">Asia/Tokyo"));
    assert!(page.text.contains("<option value=\"Asia/Tokyo\" selected>"));
    // A zone not in the list is refused and changes nothing; another site is no way back.
    let r = web
        .post(
            "/console/time-zone",
            &[("csrf", &token), ("zone", "Mars/Base")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = web
        .post(
            "/console/time-zone",
            &[
                ("csrf", &token),
                ("zone", "Europe/Paris"),
                ("back", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.header("location"), "/console");
    assert!(web
        .get("/console/jobs")
        .await
        .text
        .contains(">Europe/Paris</a>"));
    // Automatic forgets the pick: the browser's zone again.
    let r = web
        .post("/console/time-zone", &[("csrf", &token), ("zone", "auto")])
        .await;
    assert_eq!(r.status, 303);
    assert!(!web.cookies.contains_key("conea_tz_pick"));
    assert!(web
        .get("/console/jobs")
        .await
        .text
        .contains(">America/New_York</a>"));
    // Without the form's token the pick is refused like any console form.
    let r = web
        .post("/console/time-zone", &[("zone", "Asia/Tokyo")])
        .await;
    assert_eq!(r.status, 403);
}

async fn the_operations_page_shows_the_process_limits_and_slow_statements_with_what_to_do(
    b: Backend,
) {
    // Every statement counts as slow: the page lists them and says what to do.
    let Some(s) = seeded_with(b, &[("CONEA_SLOW_QUERY_MS", "0")]).await else {
        return;
    };
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let page = web.get("/console/operations").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let cell = |id: &str| {
        let at = page
            .text
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id}"));
        let from = at + page.text[at..].find('>').unwrap() + 1;
        page.text[from..from + page.text[from..].find("</td>").unwrap()].to_owned()
    };
    assert!(cell("memory").starts_with("RSS "), "{}", cell("memory"));
    assert!(cell("open-files").contains(" / "), "{}", cell("open-files"));
    assert!(cell("cpu").contains("cores"), "{}", cell("cpu"));
    assert!(
        cell("limiter-usage").contains("allowed"),
        "{}",
        cell("limiter-usage")
    );
    assert!(
        cell("slow-count").contains("&gt; 0 ms"),
        "{}",
        cell("slow-count")
    );
    assert!(page.text.contains("id=\"slow-statements\""));
    assert!(
        page.text.contains("conea db slow"),
        "the fix for slow statements"
    );
    // No escalation channel is configured in the tests: incidents notify nobody.
    assert!(
        page.text.contains("CONEA_ESCALATION_CONFIG"),
        "{}",
        page.text
    );
    // A viewer has no such page.
    let mut viewer = Web::new(&s.app);
    viewer.sign_in(VIEWER).await;
    assert_eq!(viewer.get("/console/operations").await.status, 403);
}

async fn a_question_streams_its_tool_calls_text_and_rendered_answer_as_server_sent_events(
    b: Backend,
) {
    let url = crate::fake_ai::start().await;
    let settings = [
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", url.as_str()),
        ("CONEA_INSIGHTS_MODEL", "openai/gpt-test"),
        ("CONEA_AI_MAX_RETRIES", "0"),
    ];
    let Some(s) = seeded_with(b, &settings).await else {
        return;
    };
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let page = web.get("/console/ask").await;
    assert!(page.text.contains("data-stream=\"/console/ask/stream\""));
    assert!(page.text.contains("<template id=\"ask-live\">"));
    let q = [("question", "How much did I sell?")];
    // Without the token: refused like every console POST.
    assert_eq!(web.post("/console/ask/stream", &q).await.status, 403);
    let token = page.csrf();
    let r = web
        .post(
            "/console/ask/stream",
            &[
                ("csrf", token.as_str()),
                ("question", "How much did I sell?"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("content-type").starts_with("text/event-stream"));
    let order: Vec<usize> = ["event: tool_call", "event: delta", "event: done"]
        .iter()
        .map(|e| {
            r.text
                .find(e)
                .unwrap_or_else(|| panic!("{e} in {}", r.text))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", r.text);
    assert!(r.text.contains("sales_over_time") && r.text.contains("You had 4 orders"));
    // The done event carries the answer as the page renders it.
    assert!(r.text.contains("id=\\\"evidence-section\\\""), "{}", r.text);
    // The question started a thread, listed on the ask page.
    assert!(r.text.contains("continue-thread"), "{}", r.text);
    let list = web.get("/console/ask").await;
    assert!(list.text.contains("data-thread=\"thr_"), "{}", list.text);
    assert!(list.text.contains("How much did I sell?"));
    // An empty question is refused before any streaming, with the form's page.
    let r = web
        .post(
            "/console/ask/stream",
            &[("csrf", token.as_str()), ("question", " ")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.header("content-type").starts_with("text/html"));
    // A viewer (no ai:use) is refused the stream too.
    let mut viewer = Web::new(&s.app);
    viewer.sign_in(VIEWER).await;
    let token = viewer.get("/console/jobs").await.csrf();
    let r = viewer
        .post(
            "/console/ask/stream",
            &[("csrf", token.as_str()), ("question", "Sales?")],
        )
        .await;
    assert_eq!(r.status, 403);
}

/// Posts `fields` with the CSRF token.
async fn post_with(
    web: &mut Web,
    path: String,
    token: String,
    fields: Vec<(&str, String)>,
) -> crate::fixture::Page {
    let mut all = vec![("csrf", token)];
    all.extend(fields);
    let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    web.post(&path, &pairs).await
}

async fn budgets_and_rate_limits_are_set_with_the_permissions_of_their_api_routes(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    const PATH: &str = "/console/settings/limits";
    // A viewer (no keys:manage) is refused the page.
    let mut viewer = Web::new(&s.app);
    viewer.sign_in(VIEWER).await;
    assert_eq!(viewer.get(PATH).await.status, 403);
    // An org admin (keys:manage, not admin): the limits, no budget, no organization form.
    let mut admin = Web::new(&s.app);
    admin.sign_in(ADMIN).await;
    let page = admin.get(PATH).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("data-source=\"default\""),
        "{}",
        page.text
    );
    assert!(!page.text.contains("id=\"ai-budget\"") && !page.text.contains("limits/org\""));
    // The budget is refused on the server even when posted with a valid token.
    let r = admin
        .post(
            &format!("{PATH}/budget"),
            &[("csrf", &page.csrf()), ("monthly_tokens", "1000")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    // A key of the organization gets its own limit (below the organization's).
    let created = admin
        .post(
            "/console/settings/keys",
            &[
                ("csrf", &page.csrf()),
                ("name", "feed"),
                ("permission", "data:read"),
            ],
        )
        .await;
    assert_eq!(created.status, 200);
    let key = s
        .app
        .state
        .accounts()
        .list_keys_of(&s.org)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.name == "feed")
        .unwrap();
    let form = |per: &'static str| {
        vec![
            ("key_id", key.id.as_str().to_owned()),
            ("per_minute", per.to_owned()),
        ]
    };
    // Without the CSRF token: refused, nothing saved.
    let r = admin
        .post(
            &format!("{PATH}/keys"),
            &[("key_id", key.id.as_str()), ("per_minute", "7")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = post_with(&mut admin, format!("{PATH}/keys"), page.csrf(), form("7")).await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, "/console/settings/limits?done=limit")
    );
    let page = admin.get(PATH).await;
    assert!(
        page.text.contains(&format!(
            "<tr data-key=\"{}\"><td>feed</td><td class=\"num\">7</td>",
            key.id.as_str()
        )),
        "{}",
        page.text
    );
    // Above the organization's limit it needs admin, as PUT /v1/rate-limits/keys/{id}.
    let r = post_with(
        &mut admin,
        format!("{PATH}/keys"),
        page.csrf(),
        form("1000000"),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = post_with(&mut admin, format!("{PATH}/keys"), page.csrf(), form("0")).await;
    assert_eq!(r.status, 422, "{}", r.text);

    // The owner (admin) sets the budget and the organization's limit.
    let r = s
        .app
        .client
        .post(
            "/v1/users",
            Some(s.app.owner()),
            serde_json::json!({"email": "owner@example.com", "password": PASSWORD, "role": "owner"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let mut owner = Web::new(&s.app);
    owner.sign_in("owner@example.com").await;
    let page = owner.get(PATH).await;
    assert!(page.text.contains("id=\"ai-budget\""), "{}", page.text);
    let r = owner
        .post(
            &format!("{PATH}/budget"),
            &[("csrf", &page.csrf()), ("monthly_tokens", "250,000")],
        )
        .await;
    assert_eq!(
        r.header("location"),
        "/console/settings/limits?done=budget",
        "{}",
        r.text
    );
    let r = owner
        .post(
            &format!("{PATH}/org"),
            &[("csrf", &page.csrf()), ("per_minute", "90"), ("burst", "")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = owner.get(PATH).await;
    assert!(
        page.text.contains("<dd id=\"budget-tokens\">250,000</dd>"),
        "{}",
        page.text
    );
    assert!(page.text.contains("data-source=\"organization\""));
    // The same services the API reads.
    let owner_principal = conea_core::principal::Principal {
        kind: conea_core::principal::PrincipalKind::User,
        subject: "usr_test".into(),
        org_id: s.org.clone(),
        role: Some(conea_core::permissions::Role::Owner),
        permissions: conea_core::permissions::Role::Owner.permissions(),
        issued_at: None,
        expires_at: None,
    };
    let budget = s
        .app
        .state
        .platform()
        .ai
        .budget(&owner_principal, s.org.as_str())
        .await
        .unwrap();
    assert_eq!(budget.monthly_tokens, Some(250_000));
    // Japanese labels.
    let ja = owner.get_with(PATH, &[("accept-language", "ja")]).await;
    assert!(ja.text.contains("月間トークン数") && ja.text.contains("この組織の個別設定"));
}

/// The day `days_ago` days before the app's clock (UTC).
fn day_before(s: &crate::fixture::Seeded, days_ago: i64) -> jiff::civil::Date {
    use conea_core::Clock;
    let ms = s.app.clock.now_ms() - days_ago * 86_400_000;
    jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::from_millisecond(ms).unwrap())
        .date()
}

async fn date_fields_show_and_read_days_in_the_pages_language(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    // #5004 is 8 days old, #5003 3 days: from 5 days ago keeps #5003 only.
    let d = day_before(&s, 5);
    let en = format!("{:02}/{:02}/{}", d.month(), d.day(), d.year());
    let ja = format!("{}/{:02}/{:02}", d.year(), d.month(), d.day());
    let en_page = web
        .get(&format!(
            "/console/data/orders?created_from={}",
            en.replace('/', "%2F")
        ))
        .await;
    assert_eq!(en_page.status, 200, "{}", en_page.text);
    assert!(en_page.text.contains("#5003") && !en_page.text.contains("#5004"));
    assert!(
        en_page.text.contains(&format!("value=\"{en}\"")),
        "shown as typed in English"
    );
    assert!(en_page.text.contains("placeholder=\"MM/DD/YYYY\""));
    assert!(
        !en_page.text.contains("type=\"date\""),
        "not the browser's locale"
    );
    // The same text in Japanese is no day (year first): refused, not misread.
    let ja_lang = [("accept-language", "ja")];
    let wrong = web
        .get_with(
            &format!(
                "/console/data/orders?created_from={}",
                en.replace('/', "%2F")
            ),
            &ja_lang,
        )
        .await;
    assert!(
        wrong.status == 400 || wrong.status == 422,
        "{}",
        wrong.status
    );
    let ja_page = web
        .get_with(
            &format!(
                "/console/data/orders?created_from={}",
                ja.replace('/', "%2F")
            ),
            &ja_lang,
        )
        .await;
    assert_eq!(ja_page.status, 200, "{}", ja_page.text);
    assert!(ja_page.text.contains("#5003") && !ja_page.text.contains("#5004"));
    assert!(ja_page.text.contains(&format!("value=\"{ja}\"")));
    assert!(ja_page.text.contains("placeholder=\"YYYY/MM/DD\""));
    // Payment states read in the page's language; the stored one stays in `data-state`.
    assert!(ja_page.text.contains(r#"data-state="paid">支払い済み"#));
    assert!(en_page.text.contains(r#"data-state="paid">Paid"#));
    assert!(ja_page
        .text
        .contains(r#"<option value="refunded">返金済み</option>"#));
    // 年月日 is read too; the overview's period shows in the Japanese field form.
    let kanji = format!("{}年{}月{}日", d.year(), d.month(), d.day());
    let overview = web
        .get_with(
            &format!(
                "/console?from={}",
                url::form_urlencoded::byte_serialize(kanji.as_bytes()).collect::<String>()
            ),
            &ja_lang,
        )
        .await;
    assert_eq!(overview.status, 200, "{}", overview.text);
    assert!(
        overview.text.contains(&format!("value=\"{ja}\"")),
        "{}",
        overview.text
    );
    // The reports form reads and shows the English form.
    let report = web
        .get(&format!(
            "/console/reports?report=sales_over_time&from={}",
            en.replace('/', "%2F")
        ))
        .await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert!(report.text.contains(&format!("value=\"{en}\"")));
    assert!(!report.text.contains("role=\"alert\""), "{}", report.text);

    // The days are the member's: #5003 was placed at 10:00 UTC, midnight of the next day
    // in Pacific/Kiritimati (UTC+14), so there it is on that next day and not on its own.
    web.cookies
        .insert("conea_tz".into(), "Pacific/Kiritimati".into());
    let on = |d: jiff::civil::Date| {
        let day = format!("{:02}%2F{:02}%2F{}", d.month(), d.day(), d.year());
        format!("/console/data/orders?created_from={day}&created_to={day}")
    };
    let d3 = day_before(&s, 3);
    let local = web.get(&on(d3.tomorrow().unwrap())).await;
    assert_eq!(local.status, 200, "{}", local.text);
    assert!(local.text.contains("#5003"), "{}", local.text);
    let utc_day = web.get(&on(d3)).await;
    assert!(!utc_day.text.contains("#5003"), "{}", utc_day.text);
}

async fn the_product_chart_names_its_products_not_their_shop(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let page = web.get("/console/reports?report=product_performance").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let svg = page
        .text
        .split("<svg")
        .nth(1)
        .and_then(|t| t.split("</svg>").next())
        .expect("a chart");
    assert!(svg.contains(">Matcha bowl</text>"), "{svg}");
    assert!(!svg.contains("shop_"), "no shop id on the axis: {svg}");
}

async fn a_viewer_without_ai_use_has_no_ask_page_and_is_refused_when_asking(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut viewer = Web::new(&s.app);
    viewer.sign_in(VIEWER).await;
    let page = viewer.get("/console").await;
    assert!(!page.text.contains("href=\"/console/ask\""));
    assert_eq!(viewer.get("/console/ask").await.status, 403);
    let r = viewer
        .post(
            "/console/ask",
            &[("csrf", &page.csrf()), ("question", "How much did I sell?")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("ai:use"), "{}", r.text);
    // Nor may the viewer open or continue a thread.
    let thread = "/console/ask/threads/thr_0000000000000000000000000000";
    assert_eq!(viewer.get(thread).await.status, 403);
    let r = viewer
        .post(thread, &[("csrf", &page.csrf()), ("question", "More?")])
        .await;
    assert_eq!(r.status, 403);
    let stream = format!("{thread}/stream");
    let r = viewer
        .post(&stream, &[("csrf", &page.csrf()), ("question", "More?")])
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let page = web.get("/console/ask").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("id=\"question\""));
    assert!(page.text.contains("No threads yet"));
    // A thread that is not the organization's is not found, streamed or not.
    assert_eq!(web.get(thread).await.status, 404);
    let r = web
        .post(&stream, &[("csrf", &page.csrf()), ("question", "More?")])
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

async fn members_get_a_new_role_and_removal_ends_their_sessions_and_a_member_cannot_do_either(
    b: Backend,
) {
    let Some(s) = seeded(b).await else { return };
    let r = s
        .app
        .client
        .post(
            "/v1/users",
            Some(s.app.owner()),
            serde_json::json!({"email": "member@example.com", "password": PASSWORD, "role": "member"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let mut member = Web::new(&s.app);
    member.sign_in("member@example.com").await;
    let page = member.get("/console/settings/members").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains(VIEWER));
    assert!(
        !page.text.contains("/remove\""),
        "no remove form for a member"
    );
    assert!(!page.text.contains("/role\""), "no role form for a member");
    let token = page.csrf();
    for (action, form) in [("remove", vec![]), ("role", vec![("role", "admin")])] {
        let mut form = form;
        form.push(("csrf", token.as_str()));
        let r = member
            .post(
                &format!("/console/settings/members/{}/{action}", s.viewer_id),
                &form,
            )
            .await;
        assert_eq!(r.status, 403, "{action}: {}", r.text);
        assert!(r.text.contains("members:manage"), "{}", r.text);
    }
    let mut viewer = Web::new(&s.app);
    viewer.sign_in(VIEWER).await;
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let token = web.get("/console/settings/members").await.csrf();
    let r = web
        .post(
            &format!("/console/settings/members/{}/role", s.viewer_id),
            &[("csrf", &token), ("role", "member")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let listed = web.get("/console/settings/members").await;
    let row = &listed.text[listed
        .text
        .find(&format!("data-member=\"{}\"", s.viewer_id))
        .unwrap()..];
    assert!(row.contains("member-role\">Member<"), "{row}");
    assert_eq!(viewer.get("/console/jobs").await.status, 200);
    let r = web
        .post(
            &format!("/console/settings/members/{}/remove", s.viewer_id),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let after = viewer.get("/console/jobs").await;
    assert_eq!(after.status, 303, "the removed member's session ended");
    assert_eq!(after.header("location"), "/console/login");
    assert!(!web
        .get("/console/settings/members")
        .await
        .text
        .contains(VIEWER));
}

/// A `multipart/form-data` body of text fields, then the file.
fn multipart(fields: &[(&str, &str)], file: &str) -> (String, Vec<u8>) {
    let boundary = "----conea-test-boundary";
    let mut body = String::new();
    for (k, v) in fields {
        body.push_str(&format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"orders.ndjson\"\r\n\
         content-type: application/x-ndjson\r\n\r\n{file}\r\n--{boundary}--\r\n"
    ));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

async fn an_uploaded_file_is_imported_and_its_status_page_follows_the_job(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let file: Vec<String> = (0..20)
        .map(|i| crate::fixture::order(&s.app, 9000 + i, 2, "100", 1).to_string())
        .collect();
    let file = file.join("\n") + "\n";
    let mut viewer = Web::new(&s.app);
    viewer.sign_in(VIEWER).await;
    let orders = viewer.get("/console/data/orders").await;
    assert!(!orders.text.contains("href=\"/console/data/import\""));
    assert_eq!(viewer.get("/console/data/import").await.status, 403);
    let token = orders.csrf();
    let (ct, body) = multipart(&[("csrf", &token), ("kind", "orders")], &file);
    let r = viewer.post_raw("/console/data/import", &ct, body).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("data:write"), "{}", r.text);

    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let page = web.get("/console/data/import").await;
    assert_eq!(page.status, 200, "{}", page.text);
    // Without the token first, nothing is read.
    let (ct, body) = multipart(&[("kind", "orders"), ("csrf", &page.csrf())], &file);
    let r = web.post_raw("/console/data/import", &ct, body).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let (ct, body) = multipart(&[("csrf", &page.csrf()), ("kind", "orders")], &file);
    let r = web.post_raw("/console/data/import", &ct, body).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let status_page = r.header("location").to_owned();
    let job_id = status_page.rsplit('/').next().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let result = loop {
        let r = s
            .app
            .client
            .get(&format!("/v1/jobs/{job_id}"), Some(s.app.owner()))
            .await;
        if r.body["status"] == "completed" {
            break r.body["result"].clone();
        }
        assert!(std::time::Instant::now() < deadline, "{}", r.text);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(result["inserted"], 20, "{result}");
    let json = web.get(&format!("{status_page}/status")).await;
    assert_eq!(json.status, 200, "{}", json.text);
    let v: serde_json::Value = serde_json::from_str(&json.text).unwrap();
    assert_eq!(v["progress"], 100, "{v}");
    assert_eq!(v["final"], true);
    let done = web.get(&status_page).await;
    assert!(
        done.text.contains("id=\"import-inserted\">20<"),
        "{}",
        done.text
    );
    assert!(!done.text.contains("http-equiv=\"refresh\""));
}

async fn schedules_are_created_edited_and_disabled_and_a_viewer_only_runs_reports(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut viewer = Web::new(&s.app);
    viewer.sign_in(VIEWER).await;
    let page = viewer
        .get("/console/reports?report=product_performance")
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Matcha bowl"), "{}", page.text);
    assert!(!page.text.contains("action=\"/console/schedules\""));
    let form = [
        ("csrf", page.csrf()),
        ("report", "sales_over_time".to_owned()),
        ("cron", "0 9 * * 1".to_owned()),
        ("timezone", "Asia/Tokyo".to_owned()),
        ("channel", "webhook".to_owned()),
        ("target", "https://hooks.example.com/conea".to_owned()),
    ];
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = viewer.post("/console/schedules", &pairs).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("data:write"));
    let listed = s.app.client.get("/v1/schedules", Some(s.app.owner())).await;
    assert_eq!(
        listed.body["data"].as_array().unwrap().len(),
        0,
        "{}",
        listed.text
    );

    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let page = web.get("/console/reports").await;
    let mut pairs = pairs.clone();
    let token = page.csrf();
    pairs[0] = ("csrf", &token);
    let created = web.post("/console/schedules", &pairs).await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert!(created.text.contains("id=\"new-secret\""));
    let listed = s.app.client.get("/v1/schedules", Some(s.app.owner())).await;
    let id = listed.body["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed.body["data"][0]["cron"], "0 9 * * 1");
    // A refused cron names the problem on the form.
    pairs[2] = ("cron", "every monday");
    let bad = web.post(&format!("/console/schedules/{id}"), &pairs).await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert!(bad.text.contains("role=\"alert\""), "{}", bad.text);
    // In Japanese, the kind of refusal in Japanese, the core's exact detail after it.
    web.cookies.insert("conea_lang".into(), "ja".into());
    let bad = web.post(&format!("/console/schedules/{id}"), &pairs).await;
    web.cookies.remove("conea_lang");
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert!(
        bad.text
            .contains("入力が正しくありません（cron）。詳細: `every monday`"),
        "{}",
        bad.text
    );
    pairs[2] = ("cron", "30 8 * * *");
    let r = web.post(&format!("/console/schedules/{id}"), &pairs).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = web
        .post(
            &format!("/console/schedules/{id}/enabled"),
            &[("csrf", &token), ("enabled", "false")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let shown = s
        .app
        .client
        .get(&format!("/v1/schedules/{id}"), Some(s.app.owner()))
        .await;
    assert_eq!(shown.body["cron"], "30 8 * * *", "{}", shown.text);
    assert_eq!(shown.body["enabled"], false);
    // The viewer may not toggle it back either.
    let token = viewer.get("/console/reports").await.csrf();
    let r = viewer
        .post(
            &format!("/console/schedules/{id}/enabled"),
            &[("csrf", &token), ("enabled", "true")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
}

async fn an_incident_page_takes_notes_and_escalates_and_a_viewer_is_refused_both(b: Backend) {
    let (_dir, policy) = escalation_policy();
    let settings = [("CONEA_ESCALATION_CONFIG", policy.as_str())];
    let Some(s) = seeded_with(b, &settings).await else {
        return;
    };
    let r = s
        .app
        .client
        .post(
            "/v1/incidents",
            Some(s.app.owner()),
            serde_json::json!({"title": "Payments fail", "severity": "high"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let mut viewer = Web::new(&s.app);
    viewer.sign_in(VIEWER).await;
    let token = viewer.get("/console/jobs").await.csrf();
    assert_eq!(
        viewer.get(&format!("/console/incidents/{id}")).await.status,
        403
    );
    for action in ["notes", "escalate"] {
        let r = viewer
            .post(
                &format!("/console/incidents/{id}/{action}"),
                &[("csrf", &token), ("text", "from a viewer")],
            )
            .await;
        assert_eq!(r.status, 403, "{action}: {}", r.text);
        assert!(r.text.contains("incidents:manage"), "{}", r.text);
    }
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let page = web.get(&format!("/console/incidents/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Payments fail"));
    let r = web
        .post(
            &format!("/console/incidents/{id}/notes"),
            &[
                ("csrf", &page.csrf()),
                ("text", "Card processor timing out"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = web
        .post(
            &format!("/console/incidents/{id}/escalate"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        r.header("location"),
        format!("/console/incidents/{id}?done=escalated")
    );
    let timeline = s
        .app
        .client
        .get(&format!("/v1/incidents/{id}"), Some(s.app.owner()))
        .await;
    let text = timeline.text;
    assert!(text.contains("Card processor timing out"), "{text}");
    assert!(text.contains("Manual escalation"), "{text}");
    assert!(!text.contains("from a viewer"), "{text}");
    // The draft on the page carries the note.
    let page = web.get(&format!("/console/incidents/{id}")).await;
    let draft = &page.text[page.text.find("id=\"postmortem\"").unwrap()..];
    assert!(draft.contains("Card processor timing out"), "{draft}");
}

/// A server that talks to a fake Shopify (`prepare` sets it up before the server starts,
/// `settings` add to the server's), with the admin member.
async fn shopify_app(
    b: Backend,
    prepare: impl FnOnce(&conea_testkit::fake_shopify::FakeShopify),
    settings: &[(&str, &str)],
) -> Option<(
    conea_testkit::TestApp,
    conea_testkit::fake_shopify::FakeShopify,
)> {
    use conea_testkit::fake_shopify::{Counts, FakeShopify};
    let clock = conea_core::FakeClock::starting_now();
    let shopify = FakeShopify::start(clock.clone(), Counts::of(0)).await;
    prepare(&shopify);
    let db = conea_testkit::TestDb::create(b).await?;
    let mut all = vec![
        ("CONEA_JOB_LEASE", "1h"),
        ("SHOPIFY_BASE_URL", shopify.base_url.as_str()),
    ];
    all.extend_from_slice(settings);
    let app = conea_testkit::TestApp::start(db, &all, clock).await;
    let r = app
        .client
        .post(
            "/v1/users",
            Some(app.owner()),
            serde_json::json!({"email": ADMIN, "password": PASSWORD, "role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    Some((app, shopify))
}

async fn the_shopify_page_lists_a_connected_shop_and_sync_now_enqueues_its_sync(b: Backend) {
    use conea_testkit::fake_shopify as fake;
    let Some((app, _shopify)) = shopify_app(b, |_| {}, &[]).await else {
        return;
    };
    let r = app
        .client
        .post(
            "/v1/integrations/shopify/shops",
            Some(app.owner()),
            serde_json::json!({"shop_domain": "fake-shop.myshopify.com",
                               "access_token": fake::TOKEN, "api_secret": "shpss_secret"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let shop_id = r.body["id"].as_str().unwrap().to_owned();
    let mut web = Web::new(&app);
    web.sign_in(ADMIN).await;
    let page = web.get("/console/shopify").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("fake-shop.myshopify.com"));
    // Its state in the member's language, the raw one kept for scripts.
    assert!(
        page.text.contains(r#"data-state="active">Connected"#),
        "{}",
        page.text
    );
    let ja = web
        .get_with("/console/shopify", &[("accept-language", "ja")])
        .await;
    assert!(
        ja.text.contains(r#"data-state="active">接続中"#),
        "{}",
        ja.text
    );
    let before = app
        .client
        .get("/v1/jobs?kind=shopify.sync", Some(app.owner()))
        .await;
    let count = |r: &conea_testkit::Resp| r.body["data"].as_array().map(Vec::len).unwrap_or(0);
    let r = web
        .post(
            &format!("/console/shopify/{shop_id}/sync"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(
        r.header("location"),
        "/console/shopify?done=sync",
        "{}",
        r.text
    );
    let after = app
        .client
        .get("/v1/jobs?kind=shopify.sync", Some(app.owner()))
        .await;
    assert_eq!(count(&after), count(&before) + 1, "{}", after.text);
}

async fn a_shop_is_connected_from_the_shopify_page_through_shopifys_consent(b: Backend) {
    const APP_ID: &str = "conea-app-client-id";
    const APP_SECRET: &str = "shpss_conea_app_secret";
    let oauth = [
        ("SHOPIFY_BULK_THRESHOLD", "off"),
        ("CONEA_PUBLIC_URL", "https://conea.example.test"),
        ("SHOPIFY_API_KEY", APP_ID),
        ("SHOPIFY_API_SECRET", APP_SECRET),
    ];
    let Some((app, shopify)) =
        shopify_app(b, |s| s.set_oauth_app(APP_ID, APP_SECRET), &oauth).await
    else {
        return;
    };
    let mut web = Web::new(&app);
    web.sign_in(ADMIN).await;
    let page = web.get("/console/shopify").await;
    assert!(
        page.text.contains("action=\"/console/shopify/connect\""),
        "{}",
        page.text
    );
    // Not a shop's domain: the page again, the reason in the member's language.
    web.cookies.insert("conea_lang".into(), "ja".into());
    let r = web
        .post(
            "/console/shopify/connect",
            &[("csrf", &page.csrf()), ("shop", "example.com")],
        )
        .await;
    web.cookies.remove("conea_lang");
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("name.myshopify.com の形式"), "{}", r.text);
    assert!(
        r.text.contains("value=\"example.com\""),
        "the domain is kept"
    );
    // A shop's domain: a link on to Shopify's consent page for Conea's app.
    let r = web
        .post(
            "/console/shopify/connect",
            &[("csrf", &page.csrf()), ("shop", "fake-shop.myshopify.com")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let at = r.text.find("id=\"shopify-consent\"").expect("consent link");
    let href_at = at + r.text[at..].find("href=\"").unwrap() + 6;
    let href =
        r.text[href_at..href_at + r.text[href_at..].find('"').unwrap()].replace("&amp;", "&");
    let consent = url::Url::parse(&href).unwrap();
    assert_eq!(
        format!(
            "{}{}",
            &href[..href.find("/admin").unwrap()],
            consent.path()
        ),
        format!("{}/admin/oauth/authorize", shopify.base_url)
    );
    let param = |name: &str| {
        consent
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {consent}"))
    };
    assert_eq!(param("client_id"), APP_ID);
    // The merchant approves: Shopify sends the browser to the callback, which connects the
    // shop for the member's organization.
    shopify.issue_code("console-code");
    let mut query: Vec<(String, String)> = [
        ("code", "console-code".to_owned()),
        ("shop", "fake-shop.myshopify.com".to_owned()),
        ("state", param("state")),
        ("timestamp", "1764842400".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let hmac = conea_shopify::oauth::sign_query(&query, APP_SECRET);
    query.push(("hmac".into(), hmac));
    let r = app
        .client
        .http()
        .get(app.client.url("/v1/integrations/shopify/callback"))
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.text().await.unwrap().contains("/console/shopify"),
        "a way back to the console"
    );
    let page = web.get("/console/shopify").await;
    assert!(
        page.text.contains(r#"<td>fake-shop.myshopify.com</td>"#),
        "{}",
        page.text
    );
}

async fn an_admin_acknowledges_and_resolves_an_incident_and_a_viewer_cannot_open_the_page(
    b: Backend,
) {
    let Some(s) = seeded(b).await else { return };
    let r = s
        .app
        .client
        .post(
            "/v1/incidents",
            Some(s.app.owner()),
            serde_json::json!({"title": "Checkout is slow", "severity": "high"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let page = web.get("/console/incidents").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Checkout is slow"));
    let r = web
        .post(
            &format!("/console/incidents/{id}/acknowledge"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(r.header("location"), "/console/incidents?done=acknowledged");
    let shown = s
        .app
        .client
        .get(&format!("/v1/incidents/{id}"), Some(s.app.owner()))
        .await;
    assert_eq!(shown.body["status"], "acknowledged", "{}", shown.text);
    let r = web
        .post(
            &format!("/console/incidents/{id}/resolve"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(r.header("location"), "/console/incidents?done=resolved");
    let shown = s
        .app
        .client
        .get(&format!("/v1/incidents/{id}"), Some(s.app.owner()))
        .await;
    assert_eq!(shown.body["status"], "resolved");
    let mut viewer = Web::new(&s.app);
    viewer.sign_in(VIEWER).await;
    let jobs = viewer.get("/console/jobs").await;
    assert!(
        !jobs.text.contains("/console/incidents"),
        "no incidents link"
    );
    assert_eq!(viewer.get("/console/incidents").await.status, 403);
}

async fn a_browser_at_the_root_goes_to_the_console_and_an_api_client_gets_404(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut web = Web::new(&s.app);
    let r = web
        .get_with("/", &[("accept", "text/html,application/xhtml+xml")])
        .await;
    assert_eq!((r.status, r.header("location")), (303, "/console"));
    let r = web.get_with("/", &[("accept", "application/json")]).await;
    assert_eq!(r.status, 404);
    assert!(r.text.contains("\"code\""), "{}", r.text);
    // Not signed in: the console sends the browser to the sign-in page.
    let r = web.get("/console").await;
    assert_eq!((r.status, r.header("location")), (303, "/console/login"));
}

async fn sign_in_sets_a_strict_http_only_session_cookie_and_pages_are_locked_down(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut web = Web::new(&s.app);
    let r = web.sign_in(ADMIN).await;
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("conea_session="))
        .expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let page = web.get("/console").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let csp = page.header("content-security-policy");
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"));
    assert_eq!(page.header("cache-control"), "no-store");
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert!(!page.text.contains("<script>"), "no inline script");
    assert!(!page.text.contains("style=\""), "no inline style");
    // Behind TLS (public URL https) the cookie is Secure.
    let tls = conea_testkit::TestApp::start(
        s.app.db.clone(),
        &[("CONEA_PUBLIC_URL", "https://shop.example.com")],
        s.app.clock.clone(),
    )
    .await;
    let mut web = Web::new(&tls);
    let r = web.sign_in(ADMIN).await;
    let secure = r.headers.get_all("set-cookie").iter().any(|v| {
        v.to_str().unwrap().starts_with("conea_session=")
            && v.to_str().unwrap().contains("; Secure")
    });
    assert!(secure);
}

async fn a_wrong_password_is_refused_and_a_signed_out_session_no_longer_opens_pages(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut web = Web::new(&s.app);
    let form = web.get("/console/login").await;
    let token = form.csrf();
    let r = web
        .post(
            "/console/login",
            &[
                ("csrf", &token),
                ("email", ADMIN),
                ("password", "wrong password"),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(!web.cookies.contains_key("conea_session"));
    web.sign_in(ADMIN).await;
    let stolen = web.cookies["conea_session"].clone();
    let page = web.get("/console/jobs").await;
    let r = web.post("/console/logout", &[("csrf", &page.csrf())]).await;
    assert_eq!(r.status, 200);
    // The old cookie (as another replica would see it) opens nothing any more.
    let mut other = Web::new(&s.app);
    other.cookies.insert("conea_session".into(), stolen);
    let r = other.get("/console/jobs").await;
    assert_eq!((r.status, r.header("location")), (303, "/console/login"));
}

async fn a_post_without_the_csrf_token_is_refused_with_403(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let path = format!("/console/jobs/{}/cancel", s.job_id);
    let r = web.post(&path, &[]).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = web.post(&path, &[("csrf", "forged")]).await;
    assert_eq!(r.status, 403);
    let job = s
        .app
        .state
        .platform()
        .jobs
        .get_any(&s.job_id)
        .await
        .unwrap();
    assert_eq!(job.state.as_str(), "scheduled", "nothing was cancelled");
    // The sign-in form too: no token, no sign-in.
    let mut fresh = Web::new(&s.app);
    let r = fresh
        .post(
            "/console/login",
            &[("email", ADMIN), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 403);
    // With the token the same POST works.
    let page = web.get("/console/jobs").await;
    let r = web.post(&path, &[("csrf", &page.csrf())]).await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, "/console/jobs?done=cancelled")
    );
    let job = s
        .app
        .state
        .platform()
        .jobs
        .get_any(&s.job_id)
        .await
        .unwrap();
    assert_eq!(job.state.as_str(), "cancelled");
}

async fn a_viewer_sees_no_cancel_button_and_is_refused_when_posting_it(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut web = Web::new(&s.app);
    web.sign_in(VIEWER).await;
    let page = web.get("/console/jobs").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(&s.job_id));
    assert!(
        !page.text.contains("/cancel\""),
        "no cancel form for a viewer"
    );
    assert!(
        !page.text.contains("/console/settings/keys"),
        "no keys link"
    );
    let r = web
        .post(
            &format!("/console/jobs/{}/cancel", s.job_id),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("jobs:write"), "{}", r.text);
    let r = web.get("/console/settings/keys").await;
    assert_eq!(r.status, 403);
    let r = web.get("/console/operations").await;
    assert_eq!(r.status, 403);
}

async fn removal_from_the_organization_and_a_password_change_end_the_sessions(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut viewer = Web::new(&s.app);
    viewer.sign_in(VIEWER).await;
    assert_eq!(viewer.get("/console/jobs").await.status, 200);
    let r = s
        .app
        .client
        .delete(
            &format!("/v1/organizations/{}/members/{}", s.org, s.viewer_id),
            Some(s.app.owner()),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = viewer.get("/console/jobs").await;
    assert_eq!((r.status, r.header("location")), (303, "/console/login"));

    let mut admin = Web::new(&s.app);
    admin.sign_in(ADMIN).await;
    assert_eq!(admin.get("/console/jobs").await.status, 200);
    let admin_id = s
        .app
        .state
        .accounts()
        .user_by_email(ADMIN)
        .await
        .unwrap()
        .id;
    let id: UserId = admin_id;
    s.app
        .state
        .accounts()
        .set_password(&id, "a brand new password")
        .await
        .unwrap();
    let r = admin.get("/console/jobs").await;
    assert_eq!((r.status, r.header("location")), (303, "/console/login"));
}

async fn every_page_renders_with_the_imported_data_in_both_languages(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut web = Web::new(&s.app);
    web.sign_in(ADMIN).await;
    let overview = web.get("/console").await;
    assert_eq!(overview.status, 200, "{}", overview.text);
    // 1200 + 3400 + 560 + 7800 yen in the last 30 days.
    assert!(overview.text.contains("¥12,960"), "{}", overview.text);
    assert!(overview.text.contains("<svg"), "the chart");
    assert!(overview.text.contains("Matcha bowl"), "top products");
    // The default period ends today, a day not over: its bar is drawn apart.
    assert_eq!(overview.text.matches("class=\"bar partial\"").count(), 1);
    for (path, expect) in [
        ("/console/data/orders", "#5004"),
        ("/console/data/products", "Matcha bowl"),
        ("/console/data/customers", "buyer1@example.com"),
        ("/console/data/orders/5002", "¥3,400"),
        ("/console/jobs", s.job_id.as_str()),
        ("/console/operations", "Database"),
        ("/console/settings/keys", "bootstrap owner key"),
        ("/console/time-zone", "Asia/Tokyo"),
    ] {
        let page = web.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        assert!(page.text.contains(expect), "{path} lacks {expect}");
        for landmark in ["<header", "<nav", "<main"] {
            assert!(page.text.contains(landmark), "{path} lacks {landmark}");
        }
    }
    let csv = web.get("/console/export/orders").await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert_eq!(csv.text.lines().count(), 5, "a header and four orders");
    // Japanese: chosen from Accept-Language, then switched and remembered by the cookie.
    let ja = web
        .get_with("/console", &[("accept-language", "ja,en;q=0.5")])
        .await;
    assert!(ja.text.contains("<html lang=\"ja\""));
    assert!(
        ja.text.contains("純売上") && ja.text.contains("年"),
        "{}",
        ja.text
    );
    let r = web.get("/console/lang?to=ja&back=/console/jobs").await;
    assert_eq!((r.status, r.header("location")), (303, "/console/jobs"));
    let jobs = web.get("/console/jobs").await;
    assert!(jobs.text.contains("ジョブ") && jobs.text.contains("キャンセル"));
    // Job states are labels in the page's language; the raw state is in data-state.
    assert!(
        jobs.text
            .contains("class=\"job-state\" data-state=\"scheduled\">予約済み<"),
        "{}",
        jobs.text
    );
    assert!(jobs
        .text
        .contains("<option value=\"running\">実行中</option>"));
    assert!(!jobs.text.contains(">scheduled<"), "no raw state shown");
    let r = web
        .get("/console/lang?to=en&back=https://evil.example")
        .await;
    assert_eq!(r.header("location"), "/console", "only console paths");
}

async fn assets_have_content_hashed_paths_long_caching_and_gzip(b: Backend) {
    let Some(s) = seeded(b).await else { return };
    let mut web = Web::new(&s.app);
    let login = web.get("/console/login").await;
    let at = login.text.find("/console/assets/console-").unwrap();
    let path = &login.text[at..at + login.text[at..].find('"').unwrap()];
    assert!(path.ends_with(".css") || path.ends_with(".js"), "{path}");
    let r = web.get_with(path, &[("accept-encoding", "gzip")]).await;
    assert_eq!(r.status, 200);
    assert!(r.header("cache-control").contains("immutable"));
    assert_eq!(r.header("content-encoding"), "gzip");
    let r = web.get("/console/assets/console-0000000000.css").await;
    assert_eq!(r.status, 404, "an old or unknown hash is not served");
}
