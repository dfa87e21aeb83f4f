//! The back office's gateway calls: customers and orders with their personal fields masked, one
//! field revealed with a reason, and the exports (customers, shipping labels).
//!
//! Masked views still open plaintext, inside the gateway, to mask it: they are recorded as
//! [`Action::ReadMasked`] before anything is decrypted, and only the masked text leaves. Reveals
//! and exports hand plaintext out: they need the reason the member of staff gave
//! ([`Accessor::because`]), are recorded as [`Action::Read`] naming exactly the customers and
//! fields handed out, with the reason, and fail when the ledger cannot record them.

use std::collections::HashSet;

use mamori_domain::{Address, BirthDate, PersonName, Personal};

use super::{fields, Gateway};
use crate::access::{Accessor, Action};
use crate::codec;
use crate::error::{Result, StoreError};
use crate::model::*;

/// Longest reason accepted, in characters, as a literal (for the refusal's fixed phrase).
macro_rules! reason_max_chars {
    () => {
        200
    };
}

/// Longest reason accepted, in characters.
pub const REASON_MAX_CHARS: usize = reason_max_chars!();

/// A customer's personal field as the back office names it (to mask, reveal or export).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CustomerField {
    /// 氏名 (`customers.name`).
    Name,
    /// メールアドレス (`customers.email`).
    Email,
    /// 電話番号 (`customers.phone`).
    Phone,
    /// 住所: the addresses of the customer's address book (`addresses.address`).
    Address,
    /// 生年月日 (`customers.birth_date`).
    BirthDate,
}

impl CustomerField {
    /// Every field, in display order.
    pub const ALL: [CustomerField; 5] = [
        CustomerField::Name,
        CustomerField::Email,
        CustomerField::Phone,
        CustomerField::Address,
        CustomerField::BirthDate,
    ];

    /// The form and URL code: `name`, `email`, `phone`, `address`, `birth_date`.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerField::Name => "name",
            CustomerField::Email => "email",
            CustomerField::Phone => "phone",
            CustomerField::Address => "address",
            CustomerField::BirthDate => "birth_date",
        }
    }

    /// The field with this code.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == code)
    }

    /// The field's name in the ledger (`table.column`).
    pub fn ledger_field(self) -> &'static str {
        match self {
            CustomerField::Name => fields::NAME,
            CustomerField::Email => fields::EMAIL,
            CustomerField::Phone => fields::PHONE,
            CustomerField::Address => fields::ADDRESS_BOOK_ADDRESS,
            CustomerField::BirthDate => fields::BIRTH_DATE,
        }
    }
}

/// A customer as support staff see them: every personal field masked. An empty string means the
/// customer has no such value (or was erased).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaskedCustomer {
    /// Customer id.
    pub id: String,
    /// A member (else a guest).
    pub member: bool,
    /// Erased: their personal data is gone for good (every masked field is empty).
    pub erased: bool,
    /// `山田 **`.
    pub name: String,
    /// `t***@example.jp`.
    pub email: String,
    /// `090-****-5678`.
    pub phone: String,
    /// [`BirthDate::MASKED`] (`****-**-**`) when a birth date is stored (the ciphertext's presence, nothing opened).
    pub birth_date: String,
    /// Prefecture of the buyer address of the customer's latest order (`東京都`); the address
    /// book holds delivery destinations, not the customer's own address.
    pub prefecture: Option<String>,
    /// Registered at (microseconds).
    pub created_at_us: i64,
}

/// An address-book entry, masked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaskedAddress {
    /// Entry id.
    pub id: String,
    /// Recipient, `山田 **`.
    pub name: String,
    /// `東京都千代田区 ***`.
    pub address: String,
    /// `090-****-5678`.
    pub phone: String,
    /// Added at (microseconds).
    pub created_at_us: i64,
}

/// One customer for the back office's customer page.
#[derive(Clone, Debug, Default)]
pub struct MaskedCustomerDetail {
    /// The customer, masked.
    pub customer: MaskedCustomer,
    /// Their address book, masked, oldest first.
    pub addresses: Vec<MaskedAddress>,
    /// Their orders, newest first (amounts, states, numbers; the sealed buyer fields emptied).
    pub orders: Vec<OrderHeader>,
}

/// One exported customer: the chosen fields in the order they were asked for. A field the
/// customer has no value for is an empty string.
#[derive(Clone, Debug)]
pub struct ExportedCustomer {
    /// Customer id.
    pub id: String,
    /// `(field, value)` for each exported field.
    pub values: Vec<(CustomerField, Personal<String>)>,
}

/// One delivery of an order as a carrier's label needs it (one row per delivery).
#[derive(Clone, Debug)]
pub struct ShippingRow {
    /// Order number.
    pub order_number: String,
    /// Which delivery of the order (1-based).
    pub shipment_no: i64,
    /// Recipient's full name.
    pub recipient_name: Personal<String>,
    /// `100-0001`.
    pub postal_code: Personal<String>,
    /// `東京都`.
    pub prefecture: String,
    /// City, street and building: `千代田区千代田1-1 パークハイツ101`.
    pub address_line: Personal<String>,
    /// `090-1234-5678`.
    pub phone: Personal<String>,
    /// Delivery slot code (`mamori_domain::DeliverySlot::as_str`).
    pub slot: String,
    /// Requested date (`YYYY-MM-DD`).
    pub date: Option<String>,
    /// What goes in the parcel: `名前旗 金襴 中 ×1 / 国産 緑茶 200g ×3`.
    pub items: String,
    /// 名入れ of the parcel's lines: `名前旗 金襴 中: 蒼太郎` (empty when none).
    pub personalisation: Personal<String>,
    /// のし of the parcel's lines: `タオル: 内祝 / 山田` (empty when none).
    pub noshi: Personal<String>,
}

/// One delivery of an order, masked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaskedShipment {
    /// 1-based.
    pub shipment_no: i64,
    /// `山田 **`.
    pub name: String,
    /// `東京都千代田区 ***`.
    pub address: String,
    /// `090-****-5678`.
    pub phone: String,
    /// Requested date (`YYYY-MM-DD`).
    pub delivery_date: Option<String>,
    /// Slot code.
    pub slot: String,
}

/// One order line without its sealed parts (whether it carries 名入れ or のし is shown, not what).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaskedOrderLine {
    /// 1-based.
    pub line_no: i64,
    /// Product code.
    pub sku: String,
    /// Product name at order time.
    pub product_name: String,
    /// Unit price, tax included.
    pub unit_price: i64,
    /// `standard` or `reduced`.
    pub tax_rate: String,
    /// Quantity.
    pub quantity: i64,
    /// The delivery it goes to (1-based).
    pub shipment_no: i64,
    /// Has 名入れ.
    pub personalised: bool,
    /// Has のし.
    pub noshi: bool,
}

/// An order for the back office's order page, its personal fields masked.
#[derive(Clone, Debug)]
pub struct MaskedOrder {
    /// Header (amounts, state, numbers); its sealed buyer fields emptied.
    pub header: OrderHeader,
    /// The customer was erased (every masked field is empty).
    pub erased: bool,
    /// Buyer, `山田 **`.
    pub buyer_name: String,
    /// Buyer's email, `t***@example.jp`.
    pub buyer_email: String,
    /// Buyer's phone, `090-****-5678`.
    pub buyer_phone: String,
    /// Buyer's address, `東京都千代田区 ***`.
    pub buyer_address: String,
    /// Lines.
    pub lines: Vec<MaskedOrderLine>,
    /// Deliveries.
    pub shipments: Vec<MaskedShipment>,
}

/// Fields a masked customer listing opens (to mask them).
const MASKED_LIST_FIELDS: &[&str] = &[fields::NAME, fields::EMAIL, fields::PHONE, BUYER_ADDRESS];

/// The buyer address of an order (the masked customer views take the prefecture from it).
const BUYER_ADDRESS: &str = "orders.buyer_address";

/// The reason of an accessor that hands plaintext to a person: present, not blank, one line,
/// short. [`StoreError::BadInput`] (field `reason`) otherwise.
fn require_reason(acc: &Accessor) -> Result<&str> {
    let reason = acc.reason.as_deref().map(str::trim).unwrap_or_default();
    if reason.is_empty() {
        return Err(StoreError::BadInput {
            field: "reason",
            reason: "a reason is required to see a customer's personal data",
        });
    }
    if reason.chars().count() > REASON_MAX_CHARS {
        return Err(StoreError::BadInput {
            field: "reason",
            reason: concat!(
                "the reason must be at most ",
                reason_max_chars!(),
                " characters"
            ),
        });
    }
    if reason.chars().any(char::is_control) {
        return Err(StoreError::BadInput {
            field: "reason",
            reason: "the reason must be one line of text",
        });
    }
    Ok(reason)
}

/// Ids without repeats, first occurrence kept.
fn unique<T: Clone + Eq + std::hash::Hash>(items: &[T]) -> Vec<T> {
    let mut seen = HashSet::new();
    items
        .iter()
        .filter(|i| seen.insert((*i).clone()))
        .cloned()
        .collect()
}

fn masked_name(n: Option<PersonName>) -> String {
    n.map(|n| n.masked()).unwrap_or_default()
}

fn masked_address(a: Option<Address>) -> String {
    a.map(|a| a.masked()).unwrap_or_default()
}

/// `山田 太郎（ヤマダ タロウ）`, with as much of the reading as is known, or none.
fn full_name(n: &PersonName) -> String {
    let kana: Vec<&str> = [n.family_kana(), n.given_kana()]
        .into_iter()
        .flatten()
        .collect();
    if kana.is_empty() {
        n.full_name()
    } else {
        format!("{}（{}）", n.full_name(), kana.join(" "))
    }
}

/// `千代田区千代田1-1 パークハイツ101`.
fn address_line(a: &Address) -> String {
    match a.line2() {
        Some(l2) => format!("{}{} {l2}", a.city(), a.line1()),
        None => format!("{}{}", a.city(), a.line1()),
    }
}

/// Whether the customer has a value for `field` (from the presence of ciphertext; nothing opened).
fn has_value(row: &CustomerRow, book: &[AddressRow], field: CustomerField) -> bool {
    match field {
        CustomerField::Name => row.name_ct.is_some(),
        CustomerField::Email => row.email_ct.is_some(),
        CustomerField::Phone => row.phone_ct.is_some(),
        CustomerField::BirthDate => row.birth_date_ct.is_some(),
        CustomerField::Address => book.iter().any(|a| a.address_ct.is_some()),
    }
}

impl Gateway {
    /// Opens one field of a customer in full (the caller has recorded the read).
    fn plain_field(
        &self,
        key: &mamori_vault::DataKey,
        row: &CustomerRow,
        book: &[AddressRow],
        field: CustomerField,
    ) -> Result<String> {
        const T: &str = "customers";
        let id = row.id.as_str();
        Ok(match field {
            CustomerField::Name => codec::open_name(key, T, "name", id, &row.name_ct)?
                .map(|n| full_name(&n))
                .unwrap_or_default(),
            CustomerField::Email => codec::open_email(key, T, "email", id, &row.email_ct)?
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
            CustomerField::Phone => codec::open_phone(key, T, "phone", id, &row.phone_ct)?
                .map(|p| p.to_string())
                .unwrap_or_default(),
            CustomerField::BirthDate => {
                codec::open_birth(key, T, "birth_date", id, &row.birth_date_ct)?
                    .map(|b| codec::birth_text(&b))
                    .unwrap_or_default()
            }
            CustomerField::Address => {
                let mut lines = Vec::with_capacity(book.len());
                for a in book {
                    if let Some(addr) =
                        codec::open_address(key, "addresses", "address", &a.id, &a.address_ct)?
                    {
                        lines.push(addr.to_label());
                    }
                }
                lines.join("\n")
            }
        })
    }

    /// Masks a customer whose read was recorded, with their data key (None for an erased
    /// customer, who is masked without opening anything).
    fn mask_customer(
        key: Option<&mamori_vault::DataKey>,
        row: &CustomerRow,
        latest: Option<&OrderRow>,
    ) -> Result<MaskedCustomer> {
        let mut out = MaskedCustomer {
            id: row.id.clone(),
            member: row.kind == "member",
            erased: row.erased_at.is_some(),
            created_at_us: row.created_at,
            ..Default::default()
        };
        let Some(key) = key.filter(|_| !out.erased) else {
            return Ok(out);
        };
        const T: &str = "customers";
        let id = row.id.as_str();
        out.name = masked_name(codec::open_name(key, T, "name", id, &row.name_ct)?);
        out.email = codec::open_email(key, T, "email", id, &row.email_ct)?
            .map(|e| e.masked())
            .unwrap_or_default();
        out.phone = codec::open_phone(key, T, "phone", id, &row.phone_ct)?
            .map(|p| p.masked())
            .unwrap_or_default();
        if row.birth_date_ct.is_some() {
            out.birth_date = BirthDate::MASKED.to_owned();
        }
        // The customer's own prefecture is where they last ordered from as the buyer. The
        // address book holds delivery destinations (gift recipients among them), never the
        // customer: its first entry is not where the customer lives.
        if let Some(o) = latest {
            out.prefecture =
                codec::open_address(key, "orders", "buyer_address", &o.id, &o.buyer_address_ct)?
                    .map(|a| a.prefecture().label_ja().to_owned());
        }
        Ok(out)
    }

    /// These customers (in this order), masked, as a listing shows them: one
    /// [`Action::ReadMasked`] event naming those whose data was opened.
    pub(crate) async fn customers_masked_by_id(
        &self,
        acc: &Accessor,
        ids: &[String],
    ) -> Result<Vec<MaskedCustomer>> {
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(row) = self.store.customer(id).await? {
                rows.push(row);
            }
        }
        self.mask_listing(acc, &rows).await
    }

    /// Masks a listing's customers after one [`Action::ReadMasked`] event naming the live ones.
    async fn mask_listing(
        &self,
        acc: &Accessor,
        rows: &[CustomerRow],
    ) -> Result<Vec<MaskedCustomer>> {
        let mut latest = Vec::with_capacity(rows.len());
        for row in rows {
            latest.push(if row.erased_at.is_some() {
                None
            } else {
                self.latest_order_row(&row.id).await?
            });
        }
        let live: Vec<String> = rows
            .iter()
            .filter(|r| r.erased_at.is_none())
            .map(|r| r.id.clone())
            .collect();
        if !live.is_empty() {
            self.record(acc, Action::ReadMasked, live, MASKED_LIST_FIELDS)
                .await?;
        }
        let mut items = Vec::with_capacity(rows.len());
        for (row, latest) in rows.iter().zip(&latest) {
            let key = match row.erased_at {
                Some(_) => None,
                None => Some(self.data_key(&row.id).await?),
            };
            items.push(Self::mask_customer(key.as_ref(), row, latest.as_ref())?);
        }
        Ok(items)
    }

    /// The customer's latest order with its sealed buyer (None: never ordered).
    async fn latest_order_row(&self, customer_id: &str) -> Result<Option<OrderRow>> {
        match self.store.orders_of(customer_id).await?.first() {
            Some(o) => self.store.order_row(&o.id).await,
            None => Ok(None),
        }
    }

    /// One page of customers, newest first, every personal field masked. One
    /// [`Action::ReadMasked`] event names the page's customers whose data was opened (erased
    /// ones have none; a page of only erased customers records nothing) and the fields
    /// `customers.name`, `customers.email`, `customers.phone` and `orders.buyer_address` (for the
    /// prefecture, from the latest order).
    pub async fn customers_masked(
        &self,
        acc: &Accessor,
        offset: i64,
        limit: i64,
    ) -> Result<Page<MaskedCustomer>> {
        let page = self.store.customers_page(offset, limit).await?;
        let items = self.mask_listing(acc, &page.items).await?;
        Ok(Page {
            items,
            total: page.total,
        })
    }

    /// One customer with their address book and orders, masked. One [`Action::ReadMasked`]
    /// event ([`fields::MASKED_DETAIL`]); none for an erased customer, whose data is gone.
    /// [`StoreError::NotFound`] for an unknown id.
    pub async fn customer_masked(
        &self,
        acc: &Accessor,
        customer_id: &str,
    ) -> Result<MaskedCustomerDetail> {
        let row = self
            .store
            .customer(customer_id)
            .await?
            .ok_or(StoreError::NotFound { what: "customer" })?;
        let orders: Vec<OrderHeader> = self.store.orders_of(customer_id).await?;
        if row.erased_at.is_some() {
            return Ok(MaskedCustomerDetail {
                customer: Self::mask_customer(None, &row, None)?,
                addresses: Vec::new(),
                orders,
            });
        }
        let book = self.store.addresses(customer_id).await?;
        self.record(
            acc,
            Action::ReadMasked,
            vec![customer_id.to_owned()],
            fields::MASKED_DETAIL,
        )
        .await?;
        let key = self.data_key(customer_id).await?;
        let latest = match orders.first() {
            Some(o) => self.store.order_row(&o.id).await?,
            None => None,
        };
        let customer = Self::mask_customer(Some(&key), &row, latest.as_ref())?;
        let mut addresses = Vec::with_capacity(book.len());
        for a in &book {
            const A: &str = "addresses";
            addresses.push(MaskedAddress {
                id: a.id.clone(),
                name: masked_name(codec::open_name(&key, A, "name", &a.id, &a.name_ct)?),
                address: masked_address(codec::open_address(
                    &key,
                    A,
                    "address",
                    &a.id,
                    &a.address_ct,
                )?),
                phone: codec::open_phone(&key, A, "phone", &a.id, &a.phone_ct)?
                    .map(|p| p.masked())
                    .unwrap_or_default(),
                created_at_us: a.created_at,
            });
        }
        Ok(MaskedCustomerDetail {
            customer,
            addresses,
            orders,
        })
    }

    /// One field of one customer in full, for a member of staff who gave a reason
    /// ([`Accessor::because`]). Recorded first as one [`Action::Read`] event naming exactly this
    /// customer and this field ([`CustomerField::ledger_field`]) and carrying the reason.
    ///
    /// Refused, with nothing recorded: without a reason ([`StoreError::BadInput`]), for an unknown
    /// customer or one without a value in that field ([`StoreError::NotFound`]), for an erased
    /// customer ([`StoreError::Erased`]). Fails when the ledger cannot record
    /// ([`StoreError::LedgerUnavailable`]). A name comes with its reading (`山田 太郎（ヤマダ
    /// タロウ）`), a phone hyphenated, a birth date as `1985-04-12`, the address book as one
    /// shipping label per line.
    pub async fn reveal(
        &self,
        acc: &Accessor,
        customer_id: &str,
        field: CustomerField,
    ) -> Result<Personal<String>> {
        require_reason(acc)?;
        let row = self.live_customer(customer_id).await?;
        let book = if field == CustomerField::Address {
            self.store.addresses(customer_id).await?
        } else {
            Vec::new()
        };
        if !has_value(&row, &book, field) {
            return Err(StoreError::NotFound {
                what: "value of this field",
            });
        }
        let names = [field.ledger_field()];
        let (key, recorded) = tokio::join!(
            self.data_key(customer_id),
            self.record(acc, Action::Read, vec![customer_id.to_owned()], &names),
        );
        recorded?;
        let key = key?;
        Ok(Personal::new(self.plain_field(&key, &row, &book, field)?))
    }

    /// Customers' fields in full for a CSV export, for a member of staff who gave a reason.
    /// Recorded first as ONE [`Action::Read`] event naming exactly these customers (repeats
    /// dropped, order kept) and these fields, with the reason.
    ///
    /// Refused, with nothing recorded: without a reason, with no customer or no field
    /// ([`StoreError::BadInput`]), when a customer is unknown ([`StoreError::NotFound`]) or erased
    /// ([`StoreError::Erased`]). A value the customer does not have is an empty string. Canary
    /// customers are left out (neither read nor named); a selection of canaries only gives an
    /// empty export. Charged to the read budget like every plaintext read: an export that would
    /// cross it is refused whole ([`StoreError::ReadBudgetExceeded`]).
    pub async fn export_customers(
        &self,
        acc: &Accessor,
        customer_ids: &[String],
        fields: &[CustomerField],
    ) -> Result<Vec<ExportedCustomer>> {
        require_reason(acc)?;
        let ids = unique(customer_ids);
        let wanted = unique(fields);
        if ids.is_empty() {
            return Err(StoreError::BadInput {
                field: "customer_ids",
                reason: "nothing to export: choose at least one customer",
            });
        }
        // Canaries are left out of every export: not read, not recorded, not in the file.
        let canaries = self.canary_ids().await?;
        let ids: Vec<String> = ids.into_iter().filter(|i| !canaries.contains(i)).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if ids.is_empty() {
            return Err(StoreError::BadInput {
                field: "customer_ids",
                reason: "nothing to export: choose at least one customer",
            });
        }
        if wanted.is_empty() {
            return Err(StoreError::BadInput {
                field: "fields",
                reason: "nothing to export: choose at least one field",
            });
        }
        let mut rows = Vec::with_capacity(ids.len());
        for id in &ids {
            let row = self.live_customer(id).await?;
            let book = if wanted.contains(&CustomerField::Address) {
                self.store.addresses(id).await?
            } else {
                Vec::new()
            };
            rows.push((row, book));
        }
        let names: Vec<&str> = wanted.iter().map(|f| f.ledger_field()).collect();
        self.record(acc, Action::Read, ids, &names).await?;
        let mut out = Vec::with_capacity(rows.len());
        for (row, book) in &rows {
            let key = self.data_key(&row.id).await?;
            let mut values = Vec::with_capacity(wanted.len());
            for f in &wanted {
                values.push((*f, Personal::new(self.plain_field(&key, row, book, *f)?)));
            }
            out.push(ExportedCustomer {
                id: row.id.clone(),
                values,
            });
        }
        Ok(out)
    }

    /// The deliveries of these orders as carriers' labels need them (one row per delivery, in
    /// the order the ids were given), for a member of staff who gave a reason. Recorded first as
    /// ONE [`Action::Read`] event naming each order's customer and [`fields::SHIPPING`], plus the
    /// gift fields (名入れ, のし) the orders have.
    ///
    /// Refused, with nothing recorded: without a reason or with no order
    /// ([`StoreError::BadInput`]), for an unknown order ([`StoreError::NotFound`]), for an order
    /// whose customer was erased ([`StoreError::Erased`]: there is no address to ship to).
    pub async fn shipping_rows(
        &self,
        acc: &Accessor,
        order_ids: &[String],
    ) -> Result<Vec<ShippingRow>> {
        require_reason(acc)?;
        let ids = unique(order_ids);
        if ids.is_empty() {
            return Err(StoreError::BadInput {
                field: "order_ids",
                reason: "nothing to export: choose at least one order",
            });
        }
        let mut bundles = Vec::with_capacity(ids.len());
        for id in &ids {
            let b = self
                .store
                .order(id)
                .await?
                .ok_or(StoreError::NotFound { what: "order" })?;
            if b.shipments.iter().any(|s| s.name_ct.is_none()) {
                return Err(StoreError::Erased(b.order.customer_id.clone()));
            }
            bundles.push(b);
        }
        let customers: Vec<String> = unique(
            &bundles
                .iter()
                .map(|b| b.order.customer_id.clone())
                .collect::<Vec<_>>(),
        );
        let mut names = fields::SHIPPING.to_vec();
        let all_items: Vec<OrderItemRow> = bundles
            .iter()
            .flat_map(|b| b.items.iter().cloned())
            .collect();
        names.extend(super::gifts::present_fields(&all_items));
        self.record(acc, Action::Read, customers, &names).await?;
        let mut out = Vec::new();
        for b in &bundles {
            let key = self.data_key(&b.order.customer_id).await?;
            for s in &b.shipments {
                let row_id = format!("{}/{}", b.order.id, s.shipment_no);
                let r = codec::open_recipient(
                    &key,
                    "shipments",
                    &row_id,
                    &s.name_ct,
                    &s.address_ct,
                    &s.phone_ct,
                )?;
                let first = b.shipments.first().map(|f| f.shipment_no);
                let lines: Vec<&OrderItemRow> = b
                    .items
                    .iter()
                    .filter(|it| {
                        it.shipment_no == s.shipment_no
                            || (it.shipment_no == 0 && Some(s.shipment_no) == first)
                    })
                    .collect();
                let items: Vec<String> = lines
                    .iter()
                    .map(|it| format!("{} ×{}", it.product_name, it.quantity))
                    .collect();
                let (mut engraved, mut noshi) = (Vec::new(), Vec::new());
                for it in &lines {
                    let (p, n) = super::gifts::open_line(&key, &b.order.id, it)?;
                    if let Some(p) = p {
                        engraved.push(format!("{}: {}", it.product_name, p.expose()));
                    }
                    if let Some(n) = n {
                        noshi.push(format!("{}: {}", it.product_name, n.expose()));
                    }
                }
                let a = r.address.expose();
                out.push(ShippingRow {
                    order_number: b.order.order_number.clone(),
                    shipment_no: s.shipment_no,
                    recipient_name: Personal::new(r.name.expose().full_name()),
                    postal_code: Personal::new(a.postal_code().to_string()),
                    prefecture: a.prefecture().label_ja().to_owned(),
                    address_line: Personal::new(address_line(a)),
                    phone: Personal::new(r.phone.expose().to_string()),
                    slot: s.delivery_slot.clone(),
                    date: s.delivery_date.clone(),
                    items: items.join(" / "),
                    personalisation: Personal::new(engraved.join(" / ")),
                    noshi: Personal::new(noshi.join(" / ")),
                });
            }
        }
        Ok(out)
    }

    /// One order for the back office, its buyer and recipients masked. One
    /// [`Action::ReadMasked`] event naming the order's customer and the buyer and delivery
    /// fields; none when the customer was erased (`erased`, every masked field empty). The 名入れ
    /// and のし are not opened (only whether a line has them). [`StoreError::NotFound`] for an
    /// unknown order.
    pub async fn order_masked(&self, acc: &Accessor, order_id: &str) -> Result<MaskedOrder> {
        let b = self
            .store
            .order(order_id)
            .await?
            .ok_or(StoreError::NotFound { what: "order" })?;
        let first = b.shipments.first().map(|f| f.shipment_no).unwrap_or(1);
        let lines = b
            .items
            .iter()
            .map(|it| MaskedOrderLine {
                line_no: it.line_no,
                sku: it.sku.clone(),
                product_name: it.product_name.clone(),
                unit_price: it.unit_price,
                tax_rate: it.tax_rate.clone(),
                quantity: it.quantity,
                shipment_no: if it.shipment_no == 0 {
                    first
                } else {
                    it.shipment_no
                },
                personalised: it.personalisation_ct.is_some(),
                noshi: it.noshi_ct.is_some(),
            })
            .collect();
        let o = &b.order;
        let erased = o.buyer_name_ct.is_none();
        let mut out = MaskedOrder {
            header: o.header.clone(),
            erased,
            buyer_name: String::new(),
            buyer_email: String::new(),
            buyer_phone: String::new(),
            buyer_address: String::new(),
            lines,
            shipments: Vec::new(),
        };
        if erased {
            out.shipments = b
                .shipments
                .iter()
                .map(|s| MaskedShipment {
                    shipment_no: s.shipment_no,
                    delivery_date: s.delivery_date.clone(),
                    slot: s.delivery_slot.clone(),
                    ..Default::default()
                })
                .collect();
            return Ok(out);
        }
        self.record(
            acc,
            Action::ReadMasked,
            vec![o.customer_id.clone()],
            fields::MASKED_ORDER,
        )
        .await?;
        let key = self.data_key(&o.customer_id).await?;
        const T: &str = "orders";
        out.buyer_name = masked_name(codec::open_name(
            &key,
            T,
            "buyer_name",
            &o.id,
            &o.buyer_name_ct,
        )?);
        out.buyer_email = codec::open_email(&key, T, "buyer_email", &o.id, &o.buyer_email_ct)?
            .map(|e| e.masked())
            .unwrap_or_default();
        out.buyer_phone = codec::open_phone(&key, T, "buyer_phone", &o.id, &o.buyer_phone_ct)?
            .map(|p| p.masked())
            .unwrap_or_default();
        out.buyer_address = masked_address(codec::open_address(
            &key,
            T,
            "buyer_address",
            &o.id,
            &o.buyer_address_ct,
        )?);
        for s in &b.shipments {
            const S: &str = "shipments";
            let row_id = format!("{}/{}", o.id, s.shipment_no);
            out.shipments.push(MaskedShipment {
                shipment_no: s.shipment_no,
                name: masked_name(codec::open_name(&key, S, "name", &row_id, &s.name_ct)?),
                address: masked_address(codec::open_address(
                    &key,
                    S,
                    "address",
                    &row_id,
                    &s.address_ct,
                )?),
                phone: codec::open_phone(&key, S, "phone", &row_id, &s.phone_ct)?
                    .map(|p| p.masked())
                    .unwrap_or_default(),
                delivery_date: s.delivery_date.clone(),
                slot: s.delivery_slot.clone(),
            });
        }
        Ok(out)
    }
}
