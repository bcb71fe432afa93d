//! The read functions of [`DataService`]: lists with keyset pages, one record by id, and
//! exports streamed a page at a time. Each checks `data:read` first, resolves the shop
//! filter within the caller's organization (another organization's shop or record is
//! `not_found`), then asks the store.

use super::DataService;
use crate::model::{Customer, Order, Product};
use crate::reads::export::{encode, ExportRow};
use crate::reads::params::ReadFormat;
use crate::reads::query::{
    Cursor, CustomerFilter, CustomerOrders, CustomerQuery, CustomerSort, Keyset, ListQuery, Listed,
    OrderFilter, OrderQuery, OrderSort, ProductFilter, ProductQuery, ProductSort, ReadScope, Sort,
    EXPORT_PAGE,
};
use crate::reads::views::{CustomerView, OrderDetail, OrderView, Page, ProductView};
use crate::store::ShopDataStore;
use async_trait::async_trait;
use conea_core::error::{CoreError, CoreResult};
use conea_core::ids::ShopId;
use conea_core::permissions::Permission;
use conea_core::principal::Principal;
use conea_core::store::StoreResult;
use futures::stream::{self, BoxStream, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;

/// An export's body: chunks of encoded rows (the first carries the CSV header). An error
/// ends the stream (the client sees a truncated body; the cause is logged by the caller).
pub type ExportStream = BoxStream<'static, CoreResult<Vec<u8>>>;

/// One of the three lists: how to read a page of it and what a row looks like.
#[async_trait]
pub trait Listing: Send + Sync + 'static {
    type Filter: Clone + Send + Sync + 'static;
    type Sort: Sort;
    type View: ExportRow + Send + Sync + 'static;
    /// The rows of one keyset page, in order, each with its position.
    async fn fetch(
        store: &dyn ShopDataStore,
        scope: &ReadScope,
        filter: &Self::Filter,
        page: &Keyset<Self::Sort>,
    ) -> StoreResult<Vec<(Cursor, Self::View)>>;
}

fn position<S: Sort>(sort: S, shop_id: &ShopId, record: &S::Record, id: i64) -> Cursor {
    Cursor {
        key: sort.key(record),
        shop_id: shop_id.clone(),
        id,
    }
}

pub struct Orders;
pub struct Products;
pub struct Customers;

#[async_trait]
impl Listing for Orders {
    type Filter = OrderFilter;
    type Sort = OrderSort;
    type View = OrderView;

    async fn fetch(
        store: &dyn ShopDataStore,
        scope: &ReadScope,
        filter: &OrderFilter,
        page: &Keyset<OrderSort>,
    ) -> StoreResult<Vec<(Cursor, OrderView)>> {
        let rows = store.list_orders(scope, filter, page).await?;
        Ok(rows
            .iter()
            .map(|l| {
                let at = position(page.sort, &l.shop_id, &l.record, l.record.source_id);
                (at, OrderView::of(l))
            })
            .collect())
    }
}

#[async_trait]
impl Listing for Products {
    type Filter = ProductFilter;
    type Sort = ProductSort;
    type View = ProductView;

    async fn fetch(
        store: &dyn ShopDataStore,
        scope: &ReadScope,
        filter: &ProductFilter,
        page: &Keyset<ProductSort>,
    ) -> StoreResult<Vec<(Cursor, ProductView)>> {
        let rows = store.list_products(scope, filter, page).await?;
        let currencies = shop_currencies(store, scope, &rows).await?;
        Ok(rows
            .iter()
            .map(|l| {
                let at = position(page.sort, &l.shop_id, &l.record, l.record.source_id);
                (at, ProductView::of(l, currency_of(&currencies, &l.shop_id)))
            })
            .collect())
    }
}

/// The currencies of the shops of `rows` (products carry none of their own).
async fn shop_currencies<T>(
    store: &dyn ShopDataStore,
    scope: &ReadScope,
    rows: &[Listed<T>],
) -> StoreResult<Vec<(ShopId, Option<String>)>> {
    let mut out: Vec<(ShopId, Option<String>)> = Vec::new();
    for l in rows {
        if out.iter().all(|(s, _)| s != &l.shop_id) {
            let shop = store.find_shop(&scope.org_id, l.shop_id.as_str()).await?;
            out.push((l.shop_id.clone(), shop.and_then(|s| s.currency)));
        }
    }
    Ok(out)
}

fn currency_of<'a>(currencies: &'a [(ShopId, Option<String>)], shop: &ShopId) -> Option<&'a str> {
    currencies
        .iter()
        .find(|(s, _)| s == shop)
        .and_then(|(_, c)| c.as_deref())
}

/// Customers with their order figures (one more statement per page).
async fn customer_views(
    store: &dyn ShopDataStore,
    scope: &ReadScope,
    rows: &[Listed<Customer>],
) -> StoreResult<Vec<CustomerView>> {
    let keys: Vec<(ShopId, i64)> = rows
        .iter()
        .map(|l| (l.shop_id.clone(), l.record.source_id))
        .collect();
    let orders = if keys.is_empty() {
        Vec::new()
    } else {
        store.customer_orders(&scope.org_id, &keys).await?
    };
    let mut by_customer: HashMap<(&ShopId, i64), Vec<&CustomerOrders>> = HashMap::new();
    for o in &orders {
        by_customer
            .entry((&o.shop_id, o.customer_id))
            .or_default()
            .push(o);
    }
    Ok(rows
        .iter()
        .map(|l| {
            let id = l.record.source_id;
            let mine = by_customer
                .get(&(&l.shop_id, id))
                .map(Vec::as_slice)
                .unwrap_or_default();
            CustomerView::of(&l.shop_id, id, Some(&l.record), mine)
        })
        .collect())
}

#[async_trait]
impl Listing for Customers {
    type Filter = CustomerFilter;
    type Sort = CustomerSort;
    type View = CustomerView;

    async fn fetch(
        store: &dyn ShopDataStore,
        scope: &ReadScope,
        filter: &CustomerFilter,
        page: &Keyset<CustomerSort>,
    ) -> StoreResult<Vec<(Cursor, CustomerView)>> {
        let rows = store.list_customers(scope, filter, page).await?;
        let views = customer_views(store, scope, &rows).await?;
        Ok(rows
            .iter()
            .zip(views)
            .map(|(l, v)| {
                let at = position(page.sort, &l.shop_id, &l.record, l.record.source_id);
                (at, v)
            })
            .collect())
    }
}

/// A record id from a path: a positive integer, else the record does not exist.
fn record_id(resource: &'static str, id: &str) -> CoreResult<i64> {
    match id.trim().parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(CoreError::not_found(resource, id)),
    }
}

/// The one record with this id: several shops may hold the same source id, and then the
/// caller must name the shop.
fn one<T>(resource: &'static str, id: &str, mut found: Vec<Listed<T>>) -> CoreResult<Listed<T>> {
    match found.len() {
        0 => Err(CoreError::not_found(resource, id)),
        1 => Ok(found.remove(0)),
        n => Err(CoreError::invalid(
            "shop_id",
            format!("{n} of your shops have a {resource} with id `{id}`: add `?shop_id=` to choose one."),
        )),
    }
}

impl DataService {
    /// Checks `data:read` and resolves the shop filter within the caller's organization.
    async fn read_scope(&self, by: &Principal, shop: Option<&str>) -> CoreResult<ReadScope> {
        by.require(Permission::DataRead)?;
        let shop_id = match shop.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(
                self.store()
                    .find_shop(&by.org_id, s)
                    .await?
                    .ok_or_else(|| CoreError::not_found("shop", s))?
                    .id,
            ),
        };
        Ok(ReadScope {
            org_id: by.org_id.clone(),
            shop_id,
        })
    }

    async fn list<L: Listing>(
        &self,
        by: &Principal,
        q: &ListQuery<L::Filter, L::Sort>,
    ) -> CoreResult<Page<L::View>> {
        let scope = self.read_scope(by, q.shop.as_deref()).await?;
        // A cursor continues the sort it came from.
        let (sort, after) = match q.cursor.as_deref() {
            None => (q.sort, None),
            Some(c) => Cursor::decode(c)
                .and_then(|(name, at)| Some((L::Sort::parse(name)?, Some(at))))
                .ok_or_else(|| {
                    CoreError::invalid("cursor", "`cursor` is not a `next_cursor` of this list.")
                })?,
        };
        let keyset = Keyset {
            sort,
            after,
            limit: q.limit + 1,
        };
        let mut rows = L::fetch(self.store().as_ref(), &scope, &q.filter, &keyset).await?;
        let limit = q.limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|(at, _)| at.encode(sort.as_str()))
        } else {
            None
        };
        Ok(Page {
            data: rows.into_iter().map(|(_, v)| v).collect(),
            next_cursor,
        })
    }

    /// Every row matching the query's shop, filters and sort (its cursor and limit do not
    /// apply), encoded in `format`, read [`EXPORT_PAGE`] rows at a time.
    async fn export<L: Listing>(
        &self,
        by: &Principal,
        q: &ListQuery<L::Filter, L::Sort>,
        format: ReadFormat,
    ) -> CoreResult<ExportStream> {
        let scope = self.read_scope(by, q.shop.as_deref()).await?;
        struct State<L: Listing> {
            store: Arc<dyn ShopDataStore>,
            scope: ReadScope,
            filter: L::Filter,
            keyset: Keyset<L::Sort>,
            first: bool,
            done: bool,
        }
        let state: State<L> = State {
            store: self.store().clone(),
            scope,
            filter: q.filter.clone(),
            keyset: Keyset {
                sort: q.sort,
                after: None,
                limit: EXPORT_PAGE,
            },
            first: true,
            done: false,
        };
        let chunks = stream::unfold(state, move |mut st| async move {
            if st.done {
                return None;
            }
            let rows = match L::fetch(st.store.as_ref(), &st.scope, &st.filter, &st.keyset).await {
                Ok(rows) => rows,
                Err(e) => {
                    st.done = true;
                    return Some((Err(CoreError::from(e)), st));
                }
            };
            st.done = rows.len() < EXPORT_PAGE as usize;
            st.keyset.after = rows.last().map(|(at, _)| at.clone());
            let views: Vec<L::View> = rows.into_iter().map(|(_, v)| v).collect();
            let chunk = encode(&views, format, st.first).map_err(CoreError::internal);
            st.first = false;
            if chunk.is_err() {
                st.done = true;
            }
            Some((chunk, st))
        });
        Ok(chunks.boxed())
    }

    /// `GET /v1/shop/orders` [data:read].
    pub async fn list_orders(&self, by: &Principal, q: &OrderQuery) -> CoreResult<Page<OrderView>> {
        self.list::<Orders>(by, q).await
    }

    /// Every order matching `q`, as CSV or NDJSON [data:read].
    pub async fn export_orders(
        &self,
        by: &Principal,
        q: &OrderQuery,
        format: ReadFormat,
    ) -> CoreResult<ExportStream> {
        self.export::<Orders>(by, q, format).await
    }

    /// One order with its line items and its customer's summary [data:read]. `shop`
    /// chooses among shops holding the same id.
    pub async fn get_order(
        &self,
        by: &Principal,
        id: &str,
        shop: Option<&str>,
    ) -> CoreResult<OrderDetail> {
        let scope = self.read_scope(by, shop).await?;
        let source_id = record_id("order", id)?;
        let order: Listed<Order> = one(
            "order",
            id,
            self.store().get_orders(&scope, source_id).await?,
        )?;
        let customer = match order.record.customer_id {
            None => None,
            Some(cid) => {
                let shop_scope = ReadScope {
                    org_id: scope.org_id.clone(),
                    shop_id: Some(order.shop_id.clone()),
                };
                let stored = self.store().get_customers(&shop_scope, cid).await?;
                let key = [(order.shop_id.clone(), cid)];
                let orders = self.store().customer_orders(&scope.org_id, &key).await?;
                let mine: Vec<&CustomerOrders> = orders.iter().collect();
                Some(CustomerView::of(
                    &order.shop_id,
                    cid,
                    stored.first().map(|l| &l.record),
                    &mine,
                ))
            }
        };
        Ok(OrderDetail::of(&order, customer))
    }

    /// `GET /v1/shop/products` [data:read].
    pub async fn list_products(
        &self,
        by: &Principal,
        q: &ProductQuery,
    ) -> CoreResult<Page<ProductView>> {
        self.list::<Products>(by, q).await
    }

    pub async fn export_products(
        &self,
        by: &Principal,
        q: &ProductQuery,
        format: ReadFormat,
    ) -> CoreResult<ExportStream> {
        self.export::<Products>(by, q, format).await
    }

    /// One product with its variants and stock [data:read].
    pub async fn get_product(
        &self,
        by: &Principal,
        id: &str,
        shop: Option<&str>,
    ) -> CoreResult<ProductView> {
        let scope = self.read_scope(by, shop).await?;
        let source_id = record_id("product", id)?;
        let found: Vec<Listed<Product>> = self.store().get_products(&scope, source_id).await?;
        let product = one("product", id, found)?;
        let currencies = shop_currencies(
            self.store().as_ref(),
            &scope,
            std::slice::from_ref(&product),
        )
        .await?;
        Ok(ProductView::of(
            &product,
            currency_of(&currencies, &product.shop_id),
        ))
    }

    /// `GET /v1/shop/customers` [data:read].
    pub async fn list_customers(
        &self,
        by: &Principal,
        q: &CustomerQuery,
    ) -> CoreResult<Page<CustomerView>> {
        let q = self.with_segment(by, q).await?;
        self.list::<Customers>(by, &q).await
    }

    pub async fn export_customers(
        &self,
        by: &Principal,
        q: &CustomerQuery,
        format: ReadFormat,
    ) -> CoreResult<ExportStream> {
        let q = self.with_segment(by, q).await?;
        self.export::<Customers>(by, &q, format).await
    }

    /// The query with its `segment` resolved into the cells of the customers' current
    /// scores (as `rfm_segments` scores them now, over the query's shop).
    async fn with_segment(&self, by: &Principal, q: &CustomerQuery) -> CoreResult<CustomerQuery> {
        let mut q = q.clone();
        if let Some(segment) = q.filter.segment.as_mut() {
            let scope = self.read_scope(by, q.shop.as_deref()).await?;
            let now = self.clock.now_ms();
            let rows = self
                .analytics
                .customer_sales(&crate::analytics::store::CustomerQuery {
                    org_id: scope.org_id,
                    shop_id: scope.shop_id,
                    first_from: conea_core::clock::EpochMs::MIN,
                    first_to: now,
                })
                .await?;
            segment.cells = crate::analytics::customers::segment_cells(rows, now, segment.name);
        }
        Ok(q)
    }

    /// One customer with their order count, spending per currency and first and last
    /// order [data:read].
    pub async fn get_customer(
        &self,
        by: &Principal,
        id: &str,
        shop: Option<&str>,
    ) -> CoreResult<CustomerView> {
        let scope = self.read_scope(by, shop).await?;
        let source_id = record_id("customer", id)?;
        let found = one(
            "customer",
            id,
            self.store().get_customers(&scope, source_id).await?,
        )?;
        let views =
            customer_views(self.store().as_ref(), &scope, std::slice::from_ref(&found)).await?;
        views
            .into_iter()
            .next()
            .ok_or_else(|| CoreError::not_found("customer", id))
    }
}
