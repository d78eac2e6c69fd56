//! The price catalog in use (`GET /v1/catalog`): where its prices come from and how old they
//! are — the dashboard's footer — and its age as a gauge on `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use chrono::Utc;
use dd0c_ingest::catalog::refresh::{is_stale, STALE_AFTER_DAYS};
use dd0c_ingest::PriceCatalog;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::refusals::Signed;
use crate::{Api, ApiError, Caller};

/// The catalog prices are taken from.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CatalogInfo {
    /// When its prices were taken (a date).
    as_of: String,
    /// Days since then; absent when `as_of` is not a date.
    age_days: Option<i64>,
    /// Older than `stale_after_days`: prices may have moved since.
    stale: bool,
    /// The age past which the catalog is stale.
    stale_after_days: i64,
    /// Where its prices come from.
    source: String,
    /// Per AWS service, for a catalog built from the Price List.
    services: Vec<ServiceSource>,
}

/// Where one service's prices come from.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServiceSource {
    /// The AWS offer code (`AmazonEC2`).
    service: String,
    /// When AWS published them.
    as_of: String,
    /// What they were read from.
    source: String,
    /// Regions read.
    regions: usize,
}

/// The catalog in use, its source and its age.
#[utoipa::path(get, path = "/v1/catalog", operation_id = "catalog", tag = "catalog",
    responses((status = 200, description = "The price catalog in use", body = CatalogInfo), Signed),
    security(("bearer" = [])))]
pub(crate) async fn info(
    State(api): State<Arc<Api>>,
    Caller(_): Caller,
) -> Result<Json<CatalogInfo>, ApiError> {
    let catalog = api.catalog.get();
    let age_days = age(&catalog);
    Ok(Json(CatalogInfo {
        as_of: catalog.as_of().to_owned(),
        age_days,
        stale: age_days.is_some_and(is_stale),
        stale_after_days: STALE_AFTER_DAYS,
        source: catalog.source().to_owned(),
        services: catalog
            .sources()
            .iter()
            .map(|(service, p)| ServiceSource {
                service: service.clone(),
                as_of: p.as_of.clone(),
                source: p.source.clone(),
                regions: p.regions,
            })
            .collect(),
    }))
}

fn age(catalog: &PriceCatalog) -> Option<i64> {
    catalog.age_days(Utc::now().date_naive())
}

/// The exposition lines of the catalog's age.
pub(crate) fn gauge(catalog: &PriceCatalog) -> String {
    match age(catalog) {
        Some(days) => format!(
            "# TYPE dd0c_catalog_age_days gauge\ndd0c_catalog_age_days{{as_of=\"{}\"}} {days}\n",
            catalog.as_of()
        ),
        None => String::new(),
    }
}
