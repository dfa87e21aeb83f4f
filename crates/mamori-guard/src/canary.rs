//! Canary customers: honey customers that no normal work reads, planted by `mamori guard canary
//! plant N` and by an owner on the back office's canary page (both call [`plant`]).
//!
//! Each canary is a member written through the gateway like any other (sealed, on the ledger,
//! found by the back office's search), with a plausible Japanese name, address and phone from
//! `mamori_domain::fake::person`, an email address of its own at the merchant's `guard.canary_domain`, and one
//! to three orders of real products. Its orders are card orders whose payment never went
//! through (as a declined card leaves them), so the sales figures leave them out by their own
//! rule. Which customers are canaries is kept only as marks sealed under a system key
//! (`Gateway::mark_canary`): a copy of the database does not tell them from real customers.
//! Any plaintext read of a canary through the gateway raises `canary.read`.

use mamori_domain::{
    CustomerKind, CustomerProfile, DeliverySlot, Email, OrderItem, PaymentMethod, Personal,
    Recipient, TaxRate, Yen,
};
use mamori_store::{
    gateway::{Buyer, NewOrder, NewShipment},
    Accessor, Gateway, ProductRow, StoreError,
};
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::alert::GuardError;

type Result<T> = std::result::Result<T, GuardError>;

/// The purpose every planting read and write is recorded under.
pub const PLANT_PURPOSE: &str = "guard.canary.plant";

/// Local parts the canaries' addresses are made of (romanised given names and words people use).
const LOCAL: &[&str] = &[
    "taro", "hanako", "kenji", "yuki", "sora", "haruto", "yui", "ren", "mio", "sakura", "daiki",
    "aoi", "riku", "hina", "sho", "nana", "kaito", "mei", "yuto", "rin",
];
const TAIL: &[&str] = &["", ".", "_", "-"];

/// Plants `count` canaries with addresses at `domain`, written as `acc` (its purpose should be
/// [`PLANT_PURPOSE`]); returns their customer ids (ids are not personal; the caller may keep
/// them in a safe place, the shop itself keeps only the marks). `seed` makes the names and
/// addresses repeatable (tests); the addresses' local parts come from it too.
pub async fn plant(
    gateway: &Gateway,
    acc: &Accessor,
    count: u64,
    domain: &str,
    seed: u64,
) -> Result<Vec<String>> {
    let store = gateway.records();
    let mut products: Vec<ProductRow> = Vec::new();
    for cat in store.categories().await? {
        products.extend(store.products_in_category(&cat.id, 0, 1000).await?.items);
    }
    if products.is_empty() {
        return Err(GuardError::Invalid("no products: load a catalogue first"));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ids = Vec::new();
    for _ in 0..count {
        let (name, address, phone) = mamori_domain::fake::person(&mut rng)
            .map_err(|_| GuardError::Invalid("a made-up person did not parse"))?;
        // A fresh address at the domain; a clash with an existing member is tried again.
        let mut id = None;
        for _ in 0..20 {
            let local = format!(
                "{}{}{}{}",
                LOCAL[rng.gen_range(0..LOCAL.len())],
                TAIL[rng.gen_range(0..TAIL.len())],
                LOCAL[rng.gen_range(0..LOCAL.len())],
                rng.gen_range(10..100_000)
            );
            let email = Email::parse(&format!("{local}@{domain}"))
                .map_err(|_| GuardError::Invalid("guard.canary_domain is not a mail domain"))?;
            let profile = CustomerProfile {
                kind: CustomerKind::Member,
                name: Personal::new(name.clone()),
                email: Personal::new(email.clone()),
                phone: Some(Personal::new(phone.clone())),
                birth_date: None,
                gender: None,
            };
            match gateway.register_customer(acc, &profile, None).await {
                Ok(cid) => {
                    id = Some((
                        cid,
                        Buyer {
                            name: Personal::new(name.clone()),
                            email: Personal::new(email),
                            phone: Personal::new(phone.clone()),
                            address: Personal::new(address.clone()),
                        },
                    ));
                    break;
                }
                Err(StoreError::DuplicateMember) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let (cid, buyer) = id.ok_or(GuardError::Invalid("no free address at the canary domain"))?;
        for _ in 0..rng.gen_range(1..4) {
            place(gateway, acc, &mut rng, &cid, &buyer, &products).await?;
        }
        gateway.mark_canary(&cid).await?;
        ids.push(cid);
    }
    gateway.ledger().checkpoint().await?;
    Ok(ids)
}

async fn place(
    gateway: &Gateway,
    acc: &Accessor,
    rng: &mut StdRng,
    customer_id: &str,
    buyer: &Buyer,
    products: &[ProductRow],
) -> Result<()> {
    let mut items = Vec::new();
    for _ in 0..rng.gen_range(1..3) {
        let p = &products[rng.gen_range(0..products.len())];
        items.push(OrderItem {
            sku: p.sku.clone(),
            product_name: p.name_ja.clone(),
            unit_price_incl: Yen(p.price_incl),
            rate: TaxRate::from_storage(&p.tax_rate).unwrap_or(TaxRate::Standard),
            quantity: rng.gen_range(1..3),
            personalisation: None,
            noshi: None,
        });
    }
    let order = NewOrder {
        customer_id: customer_id.to_owned(),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
        payment_method: PaymentMethod::Card,
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
    // The shop's own order number format (JST date and 32 random bits).
    let date = chrono::Utc::now()
        .with_timezone(&mamori_domain::time::jst())
        .format("%Y%m%d");
    let number = format!("{date}-{:08X}", rng.gen::<u32>());
    gateway.place_order(acc, &order, &number).await?;
    Ok(())
}
