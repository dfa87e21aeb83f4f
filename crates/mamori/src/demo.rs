//! `mamori demo populate`: a large synthetic shop for benchmarks and incident-scope work.
//!
//! Every customer and order goes through the gateway, so everything is sealed and every write is
//! on the ledger, exactly as in a real shop. Names, addresses and phones are Japanese-looking but
//! made up from small tables; emails are under `example.jp` (RFC 2606-style reserved names).
//! Synthetic members have no password (nobody can log in as them), which also keeps the run from
//! spending most of its time in Argon2.

use std::{sync::Arc, time::Instant};

use anyhow::{Context, Result};
use mamori_domain::{
    CustomerKind, CustomerProfile, DeliverySlot, Email, OrderItem, PaymentMethod, Personal,
    Recipient, TaxRate, Yen,
};
use mamori_store::{
    gateway::{Buyer, NewOrder, NewShipment},
    Accessor, Gateway, ProductRow,
};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Flags of `mamori demo populate`.
#[derive(clap::Args, Debug)]
pub struct PopulateArgs {
    /// Customers to create.
    #[arg(long, default_value_t = 1000)]
    pub customers: u64,
    /// Orders to create (spread over the customers).
    #[arg(long, default_value_t = 3000)]
    pub orders: u64,
    /// Concurrent writers.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Random seed (the same seed gives the same shop).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Builds the shop. Prints progress and the time taken.
pub async fn populate(gateway: &Gateway, args: &PopulateArgs) -> Result<()> {
    let products: Arc<Vec<ProductRow>> = Arc::new({
        let store = gateway.records();
        let mut all = Vec::new();
        for cat in store.categories().await? {
            all.extend(store.products_in_category(&cat.id, 0, 1000).await?.items);
        }
        all
    });
    anyhow::ensure!(!products.is_empty(), "no products: load a catalogue first");
    let started = Instant::now();
    let customers = create_customers(gateway, args).await?;
    let customer_secs = started.elapsed().as_secs_f64();
    println!(
        "{} customers in {:.1} s ({:.0}/s)",
        customers.len(),
        customer_secs,
        customers.len() as f64 / customer_secs.max(1e-9)
    );
    let started = Instant::now();
    let customers = Arc::new(customers);
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = args.orders.div_ceil(args.concurrency.max(1) as u64);
    for t in 0..args.concurrency.max(1) as u64 {
        let gateway = gateway.clone();
        let customers = customers.clone();
        let products = products.clone();
        let seed = args.seed ^ (0x5eed_0000 + t);
        let from = t * per_task;
        let to = ((t + 1) * per_task).min(args.orders);
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            for n in from..to {
                let (cid, buyer) = &customers[rng.gen_range(0..customers.len())];
                place(&gateway, &mut rng, cid, buyer, &products, n).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.context("order writer")??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} orders in {:.1} s ({:.0}/s)",
        args.orders,
        secs,
        args.orders as f64 / secs.max(1e-9)
    );
    gateway.ledger().checkpoint().await?;
    Ok(())
}

async fn create_customers(gateway: &Gateway, args: &PopulateArgs) -> Result<Vec<(String, Buyer)>> {
    let mut tasks = tokio::task::JoinSet::new();
    let workers = args.concurrency.max(1) as u64;
    let per_task = args.customers.div_ceil(workers);
    for t in 0..workers {
        let gateway = gateway.clone();
        let seed = args.seed ^ (0xc057_0000 + t);
        let from = t * per_task;
        let to = ((t + 1) * per_task).min(args.customers);
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut out = Vec::new();
            let acc = Accessor::system("cli:demo-populate", "demo.populate").via("demo");
            for n in from..to {
                let (name, address, phone) = mamori_domain::fake::person(&mut rng)?;
                let email = Email::parse(&format!("customer{n}@example.jp"))?;
                let profile = CustomerProfile {
                    kind: if n % 4 == 0 {
                        CustomerKind::Guest
                    } else {
                        CustomerKind::Member
                    },
                    name: Personal::new(name.clone()),
                    email: Personal::new(email.clone()),
                    phone: Some(Personal::new(phone.clone())),
                    birth_date: None,
                    gender: None,
                };
                let id = gateway.register_customer(&acc, &profile, None).await?;
                out.push((
                    id,
                    Buyer {
                        name: Personal::new(name),
                        email: Personal::new(email),
                        phone: Personal::new(phone),
                        address: Personal::new(address),
                    },
                ));
            }
            anyhow::Ok(out)
        });
    }
    let mut all = Vec::with_capacity(args.customers as usize);
    while let Some(r) = tasks.join_next().await {
        all.extend(r.context("customer writer")??);
    }
    Ok(all)
}

async fn place(
    gateway: &Gateway,
    rng: &mut StdRng,
    customer_id: &str,
    buyer: &Buyer,
    products: &[ProductRow],
    n: u64,
) -> Result<()> {
    let lines = rng.gen_range(1..4);
    let mut items = Vec::with_capacity(lines);
    for _ in 0..lines {
        let p = &products[rng.gen_range(0..products.len())];
        items.push(OrderItem {
            sku: p.sku.clone(),
            product_name: p.name_ja.clone(),
            unit_price_incl: Yen(p.price_incl),
            rate: TaxRate::from_storage(&p.tax_rate).unwrap_or(TaxRate::Standard),
            quantity: rng.gen_range(1..4),
            personalisation: None,
            noshi: None,
        });
    }
    let method = PaymentMethod::ALL[rng.gen_range(0..PaymentMethod::ALL.len())];
    let order = NewOrder {
        customer_id: customer_id.to_owned(),
        idempotency_key: format!("demo-{n}"),
        payment_method: method,
        buyer: buyer.clone(),
        items,
        shipments: vec![NewShipment {
            recipient: Recipient {
                name: buyer.name.clone(),
                address: buyer.address.clone(),
                phone: buyer.phone.clone(),
            },
            delivery_date: None,
            slot: DeliverySlot::Unspecified,
        }],
        shipping_fee: Yen(770),
        payment_fee: None,
    };
    let acc = Accessor::system("cli:demo-populate", "demo.populate").via("demo");
    gateway
        .place_order(&acc, &order, &format!("D{n:09}"))
        .await?;
    Ok(())
}
