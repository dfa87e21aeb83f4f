//! Turning domain values into sealed bytes and back. Each value is serialised (JSON for structured
//! values, its canonical text otherwise), sealed with the customer's data key at its exact place
//! (table, column, row id), and parsed back through the domain's own validating constructors.

use chrono::NaiveDate;
use mamori_domain::{
    invoice_totals, Address, BirthDate, CustomerKind, CustomerProfile, DeliverySlot, Email, Gender,
    InvoiceLine, Noshi, NoshiPurpose, OrderItem, PaymentMethod, PersonName, Personal,
    Personalisation, PhoneNumber, Recipient, TaxRate, Yen,
};
use mamori_vault::{DataKey, FieldPlace, Zeroizing};
use serde_json::json;

use crate::error::{Result, StoreError};
use crate::model::*;

/// Seals `plain` at `table.column` of `row_id`: a field's bytes, or an opaque payload (a queued
/// mail, a token's payload).
pub(crate) fn seal(
    key: &DataKey,
    table: &str,
    column: &str,
    row_id: &str,
    plain: &[u8],
) -> Result<Vec<u8>> {
    Ok(key.seal(
        &FieldPlace {
            table,
            column,
            row_id,
        },
        plain,
    )?)
}

fn open(
    key: &DataKey,
    table: &'static str,
    column: &'static str,
    row_id: &str,
    sealed: &Sealed,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    match sealed {
        None => Ok(None),
        Some(ct) => Ok(Some(key.open(
            &FieldPlace {
                table,
                column,
                row_id,
            },
            ct,
        )?)),
    }
}

fn required(
    v: Option<Zeroizing<Vec<u8>>>,
    table: &'static str,
    column: &'static str,
) -> Result<Zeroizing<Vec<u8>>> {
    v.ok_or(StoreError::Malformed { table, column })
}

fn text<'a>(b: &'a [u8], table: &'static str, column: &'static str) -> Result<&'a str> {
    std::str::from_utf8(b).map_err(|_| StoreError::Malformed { table, column })
}

fn json_bytes(v: serde_json::Value) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(serde_json::to_vec(&v).unwrap_or_default())
}

fn name_bytes(n: &PersonName) -> Zeroizing<Vec<u8>> {
    json_bytes(json!({
        "family": n.family(),
        "given": n.given(),
        "family_kana": n.family_kana(),
        "given_kana": n.given_kana(),
    }))
}

fn address_bytes(a: &Address) -> Zeroizing<Vec<u8>> {
    json_bytes(json!({
        "postal_code": a.postal_code().digits(),
        "prefecture": a.prefecture().as_str(),
        "city": a.city(),
        "line1": a.line1(),
        "line2": a.line2(),
    }))
}

fn parse_json<T: serde::de::DeserializeOwned>(
    b: &[u8],
    table: &'static str,
    column: &'static str,
) -> Result<T> {
    serde_json::from_slice(b).map_err(|_| StoreError::Malformed { table, column })
}

fn parse_name(b: &[u8], table: &'static str, column: &'static str) -> Result<PersonName> {
    parse_json(b, table, column)
}

fn parse_address(b: &[u8], table: &'static str, column: &'static str) -> Result<Address> {
    parse_json(b, table, column)
}

fn parse_email(b: &[u8], table: &'static str, column: &'static str) -> Result<Email> {
    Email::parse(text(b, table, column)?).map_err(|_| StoreError::Malformed { table, column })
}

fn parse_phone(b: &[u8], table: &'static str, column: &'static str) -> Result<PhoneNumber> {
    PhoneNumber::parse(text(b, table, column)?).map_err(|_| StoreError::Malformed { table, column })
}

fn parse_birth(b: &[u8], table: &'static str, column: &'static str) -> Result<BirthDate> {
    let d = NaiveDate::parse_from_str(text(b, table, column)?, "%Y-%m-%d")
        .map_err(|_| StoreError::Malformed { table, column })?;
    // Stored dates were validated against "today" when collected; re-checking would need a clock.
    BirthDate::new(d, NaiveDate::MAX).map_err(|_| StoreError::Malformed { table, column })
}

/// A birth date as stored and exported (`1985-04-12`).
pub(crate) fn birth_text(b: &BirthDate) -> String {
    b.date().format("%Y-%m-%d").to_string()
}

/// Opens and parses one sealed name (`None` when the column is empty).
pub(crate) fn open_name(
    key: &DataKey,
    table: &'static str,
    column: &'static str,
    row_id: &str,
    sealed: &Sealed,
) -> Result<Option<PersonName>> {
    open(key, table, column, row_id, sealed)?
        .map(|b| parse_name(&b, table, column))
        .transpose()
}

/// Opens and parses one sealed email address.
pub(crate) fn open_email(
    key: &DataKey,
    table: &'static str,
    column: &'static str,
    row_id: &str,
    sealed: &Sealed,
) -> Result<Option<Email>> {
    open(key, table, column, row_id, sealed)?
        .map(|b| parse_email(&b, table, column))
        .transpose()
}

/// Opens and parses one sealed phone number.
pub(crate) fn open_phone(
    key: &DataKey,
    table: &'static str,
    column: &'static str,
    row_id: &str,
    sealed: &Sealed,
) -> Result<Option<PhoneNumber>> {
    open(key, table, column, row_id, sealed)?
        .map(|b| parse_phone(&b, table, column))
        .transpose()
}

/// Opens and parses one sealed postal address.
pub(crate) fn open_address(
    key: &DataKey,
    table: &'static str,
    column: &'static str,
    row_id: &str,
    sealed: &Sealed,
) -> Result<Option<Address>> {
    open(key, table, column, row_id, sealed)?
        .map(|b| parse_address(&b, table, column))
        .transpose()
}

/// Opens and parses one sealed birth date.
pub(crate) fn open_birth(
    key: &DataKey,
    table: &'static str,
    column: &'static str,
    row_id: &str,
    sealed: &Sealed,
) -> Result<Option<BirthDate>> {
    open(key, table, column, row_id, sealed)?
        .map(|b| parse_birth(&b, table, column))
        .transpose()
}

/// Opens what [`seal`] sealed as opaque bytes (a queued mail, a token's payload).
pub(crate) fn open_bytes(
    key: &DataKey,
    table: &'static str,
    column: &'static str,
    row_id: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    Ok(key.open(
        &FieldPlace {
            table,
            column,
            row_id,
        },
        sealed,
    )?)
}

/// Seals a new email into a customer row (its id must be set).
pub(crate) fn seal_email(key: &DataKey, row: &mut CustomerRow, email: &Email) -> Result<()> {
    let id = row.id.clone();
    row.email_ct = Some(seal(
        key,
        "customers",
        "email",
        &id,
        email.as_str().as_bytes(),
    )?);
    Ok(())
}

/// Seals every profile field into the row (its id must be set).
pub(crate) fn seal_profile(
    key: &DataKey,
    row: &mut CustomerRow,
    p: &CustomerProfile,
) -> Result<()> {
    let id = row.id.clone();
    let t = "customers";
    row.name_ct = Some(seal(key, t, "name", &id, &name_bytes(p.name.expose()))?);
    row.email_ct = Some(seal(
        key,
        t,
        "email",
        &id,
        p.email.expose().as_str().as_bytes(),
    )?);
    row.phone_ct = match &p.phone {
        Some(ph) => Some(seal(key, t, "phone", &id, ph.expose().digits().as_bytes())?),
        None => None,
    };
    row.birth_date_ct = match &p.birth_date {
        Some(b) => Some(seal(
            key,
            t,
            "birth_date",
            &id,
            birth_text(b.expose()).as_bytes(),
        )?),
        None => None,
    };
    row.gender_ct = match p.gender {
        Some(g) => Some(seal(key, t, "gender", &id, g.as_str().as_bytes())?),
        None => None,
    };
    Ok(())
}

/// Opens a customer row into a profile.
pub(crate) fn open_profile(key: &DataKey, row: &CustomerRow) -> Result<CustomerProfile> {
    const T: &str = "customers";
    let id = row.id.as_str();
    let kind = CustomerKind::parse(&row.kind).map_err(|_| StoreError::Malformed {
        table: T,
        column: "kind",
    })?;
    let name = required(open(key, T, "name", id, &row.name_ct)?, T, "name")?;
    let email = required(open(key, T, "email", id, &row.email_ct)?, T, "email")?;
    let phone = open(key, T, "phone", id, &row.phone_ct)?;
    let birth = open(key, T, "birth_date", id, &row.birth_date_ct)?;
    let gender = open(key, T, "gender", id, &row.gender_ct)?;
    Ok(CustomerProfile {
        kind,
        name: Personal::new(parse_name(&name, T, "name")?),
        email: Personal::new(parse_email(&email, T, "email")?),
        phone: phone
            .map(|p| parse_phone(&p, T, "phone").map(Personal::new))
            .transpose()?,
        birth_date: birth
            .map(|b| parse_birth(&b, T, "birth_date").map(Personal::new))
            .transpose()?,
        gender: gender
            .map(|g| {
                Gender::parse(text(&g, T, "gender")?).map_err(|_| StoreError::Malformed {
                    table: T,
                    column: "gender",
                })
            })
            .transpose()?,
    })
}

/// Seals a recipient (name, address, phone) for a row of `table`.
pub(crate) fn seal_recipient(
    key: &DataKey,
    table: &str,
    row_id: &str,
    r: &Recipient,
) -> Result<(Sealed, Sealed, Sealed)> {
    Ok((
        Some(seal(
            key,
            table,
            "name",
            row_id,
            &name_bytes(r.name.expose()),
        )?),
        Some(seal(
            key,
            table,
            "address",
            row_id,
            &address_bytes(r.address.expose()),
        )?),
        Some(seal(
            key,
            table,
            "phone",
            row_id,
            r.phone.expose().digits().as_bytes(),
        )?),
    ))
}

/// Opens a recipient of a row of `table`.
pub(crate) fn open_recipient(
    key: &DataKey,
    table: &'static str,
    row_id: &str,
    name: &Sealed,
    address: &Sealed,
    phone: &Sealed,
) -> Result<Recipient> {
    let n = required(open(key, table, "name", row_id, name)?, table, "name")?;
    let a = required(
        open(key, table, "address", row_id, address)?,
        table,
        "address",
    )?;
    let p = required(open(key, table, "phone", row_id, phone)?, table, "phone")?;
    Ok(Recipient {
        name: Personal::new(parse_name(&n, table, "name")?),
        address: Personal::new(parse_address(&a, table, "address")?),
        phone: Personal::new(parse_phone(&p, table, "phone")?),
    })
}

fn personalisation_bytes(p: &Personalisation) -> Zeroizing<Vec<u8>> {
    json_bytes(json!({
        "name": p.name().expose(),
        "birth_date": p.birth_date().map(|b| birth_text(b.expose())),
    }))
}

fn noshi_bytes(n: &Noshi) -> Zeroizing<Vec<u8>> {
    json_bytes(json!({
        "purpose": n.purpose().as_str(),
        "name": n.name().map(|s| s.expose().clone()),
    }))
}

#[derive(serde::Deserialize)]
struct StoredPersonalisation {
    name: String,
    birth_date: Option<String>,
}

#[derive(serde::Deserialize)]
struct StoredNoshi {
    purpose: String,
    name: Option<String>,
}

fn overflow<E>(_: E) -> StoreError {
    StoreError::BadInput {
        field: "amount",
        reason: "order amounts are out of range",
    }
}

/// Builds the sealed rows of a new order and computes its amounts (tax once per rate, with the
/// shipping and payment fees taxed at the standard rate). `item_shipments` gives each line's
/// delivery (1-based, parallel to the items); empty sends every line with the first delivery.
/// The caller ([`crate::Gateway::place_order_split`]) has checked that it fits the order.
pub(crate) fn seal_order(
    key: &DataKey,
    id: &str,
    order_number: &str,
    o: &NewOrder,
    item_shipments: &[i64],
) -> Result<OrderBundle> {
    let mut lines = Vec::with_capacity(o.items.len() + 2);
    for it in &o.items {
        lines.push(it.invoice_line().map_err(overflow)?);
    }
    let items_total = Yen::checked_sum(lines.iter().map(|l| l.amount_incl)).map_err(overflow)?;
    let fee = match o.payment_fee {
        Some(fee) if o.payment_method == PaymentMethod::CashOnDelivery => fee,
        Some(_) => Yen::ZERO,
        None => o
            .payment_method
            .fee(items_total.checked_add(o.shipping_fee).map_err(overflow)?),
    };
    lines.push(InvoiceLine {
        rate: TaxRate::Standard,
        amount_incl: o.shipping_fee,
    });
    lines.push(InvoiceLine {
        rate: TaxRate::Standard,
        amount_incl: fee,
    });
    let totals = invoice_totals(&lines).map_err(overflow)?;
    let tax_of = |r: TaxRate| {
        totals
            .per_rate
            .iter()
            .find(|t| t.rate == r)
            .map(|t| t.tax.0)
            .unwrap_or(0)
    };
    let now = now_us();
    let t = "orders";
    let order = OrderRow {
        header: OrderHeader {
            id: id.to_owned(),
            order_number: order_number.to_owned(),
            customer_id: o.customer_id.clone(),
            idempotency_key: o.idempotency_key.clone(),
            state: mamori_domain::OrderState::PendingPayment,
            payment_method: o.payment_method,
            items_total: items_total.0,
            cod_fee: fee.0,
            shipping_fee: o.shipping_fee.0,
            total: totals.total_incl.0,
            tax_standard: tax_of(TaxRate::Standard),
            tax_reduced: tax_of(TaxRate::Reduced),
            placed_at: now,
            updated_at: now,
        },
        buyer_name_ct: Some(seal(
            key,
            t,
            "buyer_name",
            id,
            &name_bytes(o.buyer.name.expose()),
        )?),
        buyer_email_ct: Some(seal(
            key,
            t,
            "buyer_email",
            id,
            o.buyer.email.expose().as_str().as_bytes(),
        )?),
        buyer_phone_ct: Some(seal(
            key,
            t,
            "buyer_phone",
            id,
            o.buyer.phone.expose().digits().as_bytes(),
        )?),
        buyer_address_ct: Some(seal(
            key,
            t,
            "buyer_address",
            id,
            &address_bytes(o.buyer.address.expose()),
        )?),
    };
    let mut items = Vec::with_capacity(o.items.len());
    for (i, it) in o.items.iter().enumerate() {
        let line_no = i as i64 + 1;
        let row_id = format!("{id}/{line_no}");
        items.push(OrderItemRow {
            order_id: id.to_owned(),
            line_no,
            sku: it.sku.clone(),
            product_name: it.product_name.clone(),
            unit_price: it.unit_price_incl.0,
            tax_rate: it.rate.as_str().to_owned(),
            quantity: i64::from(it.quantity),
            personalisation_ct: match &it.personalisation {
                Some(p) => Some(seal(
                    key,
                    "order_items",
                    "personalisation",
                    &row_id,
                    &personalisation_bytes(p),
                )?),
                None => None,
            },
            noshi_ct: match &it.noshi {
                Some(n) => Some(seal(key, "order_items", "noshi", &row_id, &noshi_bytes(n))?),
                None => None,
            },
            shipment_no: item_shipments.get(i).copied().unwrap_or(1),
        });
    }
    let mut shipments = Vec::with_capacity(o.shipments.len());
    for (i, s) in o.shipments.iter().enumerate() {
        let shipment_no = i as i64 + 1;
        let row_id = format!("{id}/{shipment_no}");
        let (name_ct, address_ct, phone_ct) =
            seal_recipient(key, "shipments", &row_id, &s.recipient)?;
        shipments.push(ShipmentRow {
            order_id: id.to_owned(),
            shipment_no,
            name_ct,
            address_ct,
            phone_ct,
            delivery_date: s.delivery_date.map(|d| d.format("%Y-%m-%d").to_string()),
            delivery_slot: s.slot.as_str().to_owned(),
        });
    }
    Ok(OrderBundle {
        order,
        items,
        shipments,
    })
}

/// Opens a stored order.
pub(crate) fn open_order(key: &DataKey, b: OrderBundle) -> Result<crate::gateway::OrderView> {
    const T: &str = "orders";
    let o = &b.order;
    let id = o.id.as_str();
    let name = required(
        open(key, T, "buyer_name", id, &o.buyer_name_ct)?,
        T,
        "buyer_name",
    )?;
    let email = required(
        open(key, T, "buyer_email", id, &o.buyer_email_ct)?,
        T,
        "buyer_email",
    )?;
    let phone = required(
        open(key, T, "buyer_phone", id, &o.buyer_phone_ct)?,
        T,
        "buyer_phone",
    )?;
    let address = required(
        open(key, T, "buyer_address", id, &o.buyer_address_ct)?,
        T,
        "buyer_address",
    )?;
    let buyer = Buyer {
        name: Personal::new(parse_name(&name, T, "buyer_name")?),
        email: Personal::new(parse_email(&email, T, "buyer_email")?),
        phone: Personal::new(parse_phone(&phone, T, "buyer_phone")?),
        address: Personal::new(parse_address(&address, T, "buyer_address")?),
    };
    let mut items = Vec::with_capacity(b.items.len());
    let item_shipments = b.items.iter().map(|it| it.shipment_no.max(1)).collect();
    for it in &b.items {
        const I: &str = "order_items";
        let (personalisation, noshi) = open_gifts(key, id, it)?;
        items.push(OrderItem {
            sku: it.sku.clone(),
            product_name: it.product_name.clone(),
            unit_price_incl: Yen(it.unit_price),
            rate: TaxRate::from_storage(&it.tax_rate).ok_or(StoreError::Malformed {
                table: I,
                column: "tax_rate",
            })?,
            quantity: u32::try_from(it.quantity).map_err(|_| StoreError::Malformed {
                table: I,
                column: "quantity",
            })?,
            personalisation,
            noshi,
        });
    }
    let mut shipments = Vec::with_capacity(b.shipments.len());
    for s in &b.shipments {
        let row_id = format!("{id}/{}", s.shipment_no);
        let recipient = open_recipient(
            key,
            "shipments",
            &row_id,
            &s.name_ct,
            &s.address_ct,
            &s.phone_ct,
        )?;
        // Validate the slot code so a corrupted row is noticed here rather than on a page.
        DeliverySlot::parse(&s.delivery_slot).map_err(|_| StoreError::Malformed {
            table: "shipments",
            column: "delivery_slot",
        })?;
        shipments.push(ShipmentView {
            recipient,
            delivery_date: s.delivery_date.clone(),
            slot: s.delivery_slot.clone(),
        });
    }
    Ok(crate::gateway::OrderView {
        header: b.order.header,
        buyer,
        items,
        item_shipments,
        shipments,
    })
}

/// Opens the 名入れ and のし of one order line (the caller has recorded the read of
/// `order_items.personalisation` and `order_items.noshi`).
pub(crate) fn open_gifts(
    key: &DataKey,
    order_id: &str,
    it: &OrderItemRow,
) -> Result<(Option<Personalisation>, Option<Noshi>)> {
    const I: &str = "order_items";
    let id = order_id;
    let row_id = format!("{id}/{}", it.line_no);
    let personalisation = match open(key, I, "personalisation", &row_id, &it.personalisation_ct)? {
        None => None,
        Some(bytes) => {
            let sp: StoredPersonalisation = parse_json(&bytes, I, "personalisation")?;
            let bd = sp
                .birth_date
                .map(|d| parse_birth(d.as_bytes(), I, "personalisation"))
                .transpose()?;
            Some(
                Personalisation::new(&sp.name, bd).map_err(|_| StoreError::Malformed {
                    table: I,
                    column: "personalisation",
                })?,
            )
        }
    };
    let noshi = match open(key, I, "noshi", &row_id, &it.noshi_ct)? {
        None => None,
        Some(bytes) => {
            let sn: StoredNoshi = parse_json(&bytes, I, "noshi")?;
            let purpose = NoshiPurpose::parse(&sn.purpose).map_err(|_| StoreError::Malformed {
                table: I,
                column: "noshi",
            })?;
            Some(
                Noshi::new(purpose, sn.name.as_deref()).map_err(|_| StoreError::Malformed {
                    table: I,
                    column: "noshi",
                })?,
            )
        }
    };
    Ok((personalisation, noshi))
}
