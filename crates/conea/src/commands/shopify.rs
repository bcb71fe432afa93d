//! `conea shopify sign|verify|shops|sync|refresh|install-link|webhooks list|repair`.

use crate::cli::{ShopifyCommand, ShopifyWebhooksCommand};
use crate::context::open;
use anyhow::{Context, Result};
use conea_core::clock::rfc3339;
use conea_shopdata::RecordKind;
use conea_shopify::integration::store::ShopifyShop;
use conea_shopify::integration::Registration;
use serde_json::json;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

fn stdin_bytes() -> Result<Vec<u8>> {
    let mut body = Vec::new();
    std::io::stdin()
        .read_to_end(&mut body)
        .context("reading the body from standard input")?;
    Ok(body)
}

fn to_json(s: &ShopifyShop) -> serde_json::Value {
    json!({
        "id": s.shop_id, "shop_domain": s.domain, "api_version": s.api_version,
        "status": s.status.as_str(), "status_message": s.status_message,
        "last_sync_at": s.last_sync_at.map(rfc3339),
        "webhooks_received": s.webhooks_received, "webhooks_rejected": s.webhooks_rejected,
        "last_webhook_at": s.last_webhook_at.map(rfc3339),
    })
}

/// Prints a shop's subscriptions: Conea's, then the topics missing, then others'.
fn print_registration(r: &Registration, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    println!("address: {}", r.address);
    println!("{:<24}  ID", "TOPIC");
    for s in &r.subscriptions {
        println!("{:<24}  {}", s.topic, s.id);
    }
    if !r.created.is_empty() {
        println!("created: {}", r.created.join(", "));
    }
    println!(
        "missing: {}",
        if r.missing.is_empty() {
            "-".to_owned()
        } else {
            r.missing.join(", ")
        }
    );
    for s in &r.foreign {
        println!(
            "other address (left alone): {} {} {}",
            s.topic,
            s.callback_url.as_deref().unwrap_or("-"),
            s.id
        );
    }
    Ok(())
}

pub async fn run(file: Option<&Path>, command: ShopifyCommand) -> Result<ExitCode> {
    match command {
        ShopifyCommand::Sign { secret } => {
            println!("{}", conea_shopify::sign(&stdin_bytes()?, &secret));
            Ok(ExitCode::SUCCESS)
        }
        ShopifyCommand::Verify { secret, hmac } => {
            if conea_shopify::verify(&stdin_bytes()?, &hmac, &[secret.as_str()]) {
                println!("valid");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("invalid");
                Ok(ExitCode::FAILURE)
            }
        }
        ShopifyCommand::Shops { org, json } => {
            let p = open(file).await?;
            let org = p.accounts.org_by_slug(&org).await?;
            let shops = p.shopify.store().list_shopify_shops(&org.id).await?;
            if json {
                let list: Vec<_> = shops.iter().map(to_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<38}  {:<32}  {:<12}  {:<20}  {:>8}  {:>8}",
                    "ID", "DOMAIN", "STATUS", "LAST SYNC", "WEBHOOKS", "REJECTED"
                );
                for s in shops {
                    println!(
                        "{:<38}  {:<32}  {:<12}  {:<20}  {:>8}  {:>8}",
                        s.shop_id,
                        s.domain,
                        s.status.as_str(),
                        s.last_sync_at.map(rfc3339).unwrap_or_else(|| "-".into()),
                        s.webhooks_received,
                        s.webhooks_rejected
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ShopifyCommand::Sync { shop } => {
            let p = open(file).await?;
            let shop = p.shopify.find_any(&shop).await?;
            let job = p.shopify.enqueue_sync(&shop).await?;
            println!("{}", job.id);
            Ok(ExitCode::SUCCESS)
        }
        ShopifyCommand::Refresh { shop, resource, id } => {
            let kind = RecordKind::parse(&resource)
                .ok_or_else(|| anyhow::anyhow!("unknown resource {resource}"))?;
            let p = open(file).await?;
            let shop = p.shopify.find_any(&shop).await?;
            let job = p.shopify.enqueue_refresh(&shop, kind, id).await?;
            println!("{}", job.id);
            Ok(ExitCode::SUCCESS)
        }
        ShopifyCommand::InstallLink {
            shop,
            org,
            expires_in,
            json,
        } => {
            let p = open(file).await?;
            let org = p.accounts.org_by_slug(&org).await?;
            let ttl = expires_in.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            let link = p.shopify.install_link_for(&org.id, &shop, ttl).await?;
            if json {
                let v = serde_json::json!({
                    "url": link.url, "shop": link.shop, "expires_at": rfc3339(link.expires_at),
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("{}", link.url);
            }
            Ok(ExitCode::SUCCESS)
        }
        ShopifyCommand::Webhooks(command) => {
            let (shop, repair, json) = match command {
                ShopifyWebhooksCommand::List { shop, json } => (shop, false, json),
                ShopifyWebhooksCommand::Repair { shop, json } => (shop, true, json),
            };
            let p = open(file).await?;
            let shop = p.shopify.find_any(&shop).await?;
            let r = p.shopify.registration(&shop, repair).await?;
            print_registration(&r, json)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
