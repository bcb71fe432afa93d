//! OpenAPI schemas of the values the server checks itself (`schema_with` targets), built from
//! the same lists the checks use, so the document states each rule the server enforces.

use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, RefOr};

/// A string that is one of `values`.
pub fn one_of<'a>(values: impl IntoIterator<Item = &'a str>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.into_iter().map(str::to_owned)))
}

fn formatted(format: KnownFormat) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(format)))
}

/// Epoch milliseconds, an RFC 3339 time or a `YYYY-MM-DD` date (the read API's bounds).
pub fn instant() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(formatted(KnownFormat::Date))
        .item(formatted(KnownFormat::DateTime))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9]{1,15}$")),
        )
        .description(Some(
            "Epoch milliseconds, an RFC 3339 time or a `YYYY-MM-DD` date.",
        ))
        .into()
}

/// A `YYYY-MM-DD` local day or an RFC 3339 instant (the reports' bounds).
pub fn day_or_instant() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(formatted(KnownFormat::Date))
        .item(formatted(KnownFormat::DateTime))
        .into()
}

/// An RFC 3339 time.
pub fn date_time() -> ObjectBuilder {
    formatted(KnownFormat::DateTime)
}

/// A source id: a positive integer, written as text.
pub fn source_id() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^0*[1-9][0-9]{0,17}$"))
}

/// An IANA time zone name the server's time zone database knows.
pub fn time_zone() -> ObjectBuilder {
    let mut names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
    names.sort();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
        .description(Some("An IANA time zone name."))
}

/// `name.myshopify.com`: a shop's permanent domain.
pub fn shop_domain() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(
        "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.myshopify\\.com$",
    ))
}

pub fn report() -> ObjectBuilder {
    one_of(
        conea_shopdata::analytics::Report::ALL
            .iter()
            .map(|r| r.as_str()),
    )
}

/// What a schedule runs: an analytics report or `digest`.
pub fn schedule_report() -> ObjectBuilder {
    one_of(conea_schedules::ScheduleReport::names())
}

pub fn schedule_report_or_null() -> RefOr<Schema> {
    or_null(schedule_report())
}

/// A schedule's language.
pub fn schedule_language() -> ObjectBuilder {
    one_of(conea_schedules::Language::ALL.map(|l| l.as_str()))
}

pub fn schedule_language_or_null() -> RefOr<Schema> {
    or_null(schedule_language())
}

pub fn role() -> ObjectBuilder {
    one_of(
        conea_core::permissions::Role::ALL
            .iter()
            .map(|r| r.as_str()),
    )
}

pub fn severity() -> ObjectBuilder {
    one_of(conea_incidents::Severity::ALL.iter().map(|s| s.as_str()))
}

pub fn segment() -> ObjectBuilder {
    one_of(conea_shopdata::segments::SEGMENTS)
}

/// The `{report}` path parameter of the analytics route.
pub struct ReportName;

impl utoipa::PartialSchema for ReportName {
    fn schema() -> RefOr<Schema> {
        report().into()
    }
}

impl utoipa::ToSchema for ReportName {}

/// A `name.myshopify.com` parameter.
pub struct ShopDomain;

impl utoipa::PartialSchema for ShopDomain {
    fn schema() -> RefOr<Schema> {
        shop_domain().into()
    }
}

impl utoipa::ToSchema for ShopDomain {}

/// `shop_` and 32 lowercase hex digits: a shop's id.
pub fn shop_id() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^shop_[0-9a-f]{32}$"))
}

/// Text with something besides spaces in it (and no U+0000).
pub fn not_blank() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"))
}

/// `schema`, or `null` (an optional member sent as `null` is the same as one left out).
pub fn or_null(schema: impl Into<RefOr<Schema>>) -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(schema)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

pub fn date_time_or_null() -> RefOr<Schema> {
    or_null(date_time())
}

pub fn time_zone_or_null() -> RefOr<Schema> {
    or_null(time_zone())
}

pub fn role_or_null() -> RefOr<Schema> {
    or_null(role())
}

/// `product_performance`'s `limit` in a JSON body: 1 to 500, as a number or as text.
pub fn product_limit() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(500)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^0*([1-9][0-9]?|[1-4][0-9]{2}|500)$")),
        )
        .into()
}

pub fn day_or_instant_or_null() -> RefOr<Schema> {
    or_null(day_or_instant())
}

pub fn granularity_or_null() -> RefOr<Schema> {
    or_null(granularity())
}

pub fn compare_or_null() -> RefOr<Schema> {
    or_null(compare())
}

pub fn product_sort_or_null() -> RefOr<Schema> {
    or_null(product_sort())
}

pub fn shop_id_or_null() -> RefOr<Schema> {
    or_null(shop_id())
}

pub fn product_limit_or_null() -> RefOr<Schema> {
    or_null(product_limit())
}

pub fn granularity() -> ObjectBuilder {
    one_of(["day", "week", "month"])
}

pub fn compare() -> ObjectBuilder {
    one_of(["previous_period", "previous_year"])
}

pub fn product_sort() -> ObjectBuilder {
    one_of(["revenue", "units", "orders", "refund_rate"])
}
