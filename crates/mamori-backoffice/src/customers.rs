//! Customers: masked list and search (exact email or id; name, reading or phone by blind index), masked detail, revealing one field
//! with a reason (shown once, on the ledger with the reason), and the customer CSV export
//! (permission, reason, step-up, rate limit; never an empty selection).

use std::{collections::HashSet, sync::Arc};

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use mamori_domain::Email;
use mamori_store::{
    gateway::{CustomerField, MaskedCustomer},
    StoreError,
};
use mamori_web::{
    errors::{AppError, SafeForm},
    page::render,
    security::PagePolicy,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    ctx::Ctx,
    fail,
    forms::{self, check_reason, offset, Pager},
    orders::{csv_response, list_row, OrderListRow},
    stafflog,
    state::{fmt_secs, fmt_us, BackofficeState},
};

/// A field's label in the page's language (the store knows the field's code only).
pub fn field_label(c: &Ctx, f: CustomerField) -> &'static str {
    match f {
        CustomerField::Name => c.t("氏名", "Name"),
        CustomerField::Email => c.t("メールアドレス", "Email"),
        CustomerField::Phone => c.t("電話番号", "Phone"),
        CustomerField::Address => c.t("住所", "Address"),
        CustomerField::BirthDate => c.t("生年月日", "Birth date"),
    }
}

/// A field choice on a form.
#[derive(Debug, Clone)]
pub struct FieldOption {
    /// `name`, `email`, ...
    pub code: &'static str,
    /// Label.
    pub label: &'static str,
    /// Chosen on the form that was sent (kept when the form comes back with a problem).
    pub selected: bool,
}

fn field_options(c: &Ctx, chosen: Option<&str>) -> Vec<FieldOption> {
    CustomerField::ALL
        .iter()
        .map(|f| FieldOption {
            code: f.as_str(),
            label: field_label(c, *f),
            selected: chosen == Some(f.as_str()),
        })
        .collect()
}

/// A masked customer as a list row.
#[derive(Debug, Clone)]
pub struct CustomerLine {
    /// Id.
    pub id: String,
    /// Member or guest, erased.
    pub kind: &'static str,
    /// Masked name.
    pub name: String,
    /// Masked email.
    pub email: String,
    /// Masked phone.
    pub phone: String,
    /// Prefecture.
    pub prefecture: String,
    /// Created at.
    pub created: String,
    /// Erased.
    pub erased: bool,
}

fn line(c: &Ctx, m: &MaskedCustomer) -> CustomerLine {
    let kind = match (m.erased, m.member) {
        (true, _) => c.t("削除済み", "Erased"),
        (false, true) => c.t("会員", "Member"),
        (false, false) => c.t("ゲスト", "Guest"),
    };
    CustomerLine {
        id: m.id.clone(),
        kind,
        name: m.name.clone(),
        email: m.email.clone(),
        phone: m.phone.clone(),
        prefecture: m.prefecture.clone().unwrap_or_else(|| "-".to_owned()),
        created: fmt_us(m.created_at_us),
        erased: m.erased,
    }
}

/// `GET /customers?q=&page=` (no `Debug`: `q` may be a customer's email).
#[derive(Default, Deserialize)]
pub struct ListQuery {
    /// An exact email address or customer id.
    pub q: Option<String>,
    /// Page.
    pub page: Option<i64>,
}

#[derive(Template)]
#[template(path = "customers/list.html")]
struct List {
    c: Ctx,
    q: String,
    customers: Vec<CustomerLine>,
    pager: Pager,
    page_ids: String,
    problem: Option<&'static str>,
}

/// `GET /customers`: one page of masked customers (one `read_masked` event naming the page's
/// customers); a search by a member's exact email (blind index) or an id goes straight to that
/// customer; by name, reading, phone or a guest's email it lists the matches, masked.
pub async fn list(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let search = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut problem = None;
    let acc = c.accessor("backoffice.customers.list");
    let mut found = None;
    if let Some(s) = search {
        if s.chars().count() > 254 {
            return Err(AppError::BadRequest);
        }
        if let Some(id) = find(&state, s).await? {
            return Ok(Redirect::to(&format!("/customers/{id}")).into_response());
        }
        // Name, family name, reading (フリガナ), phone or a guest's email: exact matches
        // through the search blind indexes, shown masked like the listing.
        let hits = state
            .gateway
            .search_customers_masked(
                &c.accessor("backoffice.customers.search"),
                s,
                forms::PAGE_SIZE,
            )
            .await
            .map_err(fail("customer search"))?;
        if hits.is_empty() {
            problem = Some(c.t(
                "該当するお客様は見つかりませんでした（氏名・フリガナ・電話番号・メールアドレスは完全一致）。",
                "No customer found (names, readings, phones and emails must match exactly).",
            ));
        } else {
            found = Some(hits);
        }
    }
    let page = match found {
        Some(items) => mamori_store::Page {
            total: i64::try_from(items.len()).unwrap_or(i64::MAX),
            items,
        },
        None => state
            .gateway
            .customers_masked(&acc, offset(q.page), forms::PAGE_SIZE)
            .await
            .map_err(fail("masked customers"))?,
    };
    let customers: Vec<CustomerLine> = page.items.iter().map(|m| line(&c, m)).collect();
    let page_ids = customers
        .iter()
        .filter(|l| !l.erased)
        .map(|l| l.id.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let pager = Pager::new(q.page, page.total, String::new());
    Ok((
        PagePolicy::new().private(),
        render(&List {
            c,
            q: search.unwrap_or_default().to_owned(),
            customers,
            pager,
            page_ids,
            problem,
        }),
    )
        .into_response())
}

/// The customer named by an exact email address (members, by blind index) or an id.
async fn find(state: &BackofficeState, text: &str) -> Result<Option<String>, AppError> {
    if text.contains('@') {
        let Ok(email) = Email::parse(text) else {
            return Ok(None);
        };
        return state
            .gateway
            .find_member(&email)
            .await
            .map_err(fail("customer by email"));
    }
    if uuid::Uuid::parse_str(text).is_err() {
        return Ok(None);
    }
    let exists = state
        .gateway
        .customer_exists(text)
        .await
        .map_err(fail("customer by id"))?;
    Ok(exists.then(|| text.to_owned()))
}

/// A masked address.
#[derive(Debug, Clone)]
pub struct AddressLine {
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Phone.
    pub phone: String,
}

#[derive(Template)]
#[template(path = "customers/detail.html")]
struct Detail {
    c: Ctx,
    customer: CustomerLine,
    addresses: Vec<AddressLine>,
    orders: Vec<OrderListRow>,
    fields: Vec<FieldOption>,
    revealed: Option<(String, String)>,
    problem: Option<String>,
    reason: String,
}

async fn detail_page(
    state: &BackofficeState,
    c: Ctx,
    id: &str,
    revealed: Option<(String, String)>,
    problem: Option<String>,
    reason: String,
    chosen: Option<&str>,
) -> Result<Response, AppError> {
    let acc = c.accessor("backoffice.customers.detail");
    let d = match state.gateway.customer_masked(&acc, id).await {
        Ok(d) => d,
        Err(StoreError::NotFound { .. }) => return Err(AppError::NotFound),
        Err(e) => return Err(fail("masked customer")(e)),
    };
    let addresses = d
        .addresses
        .iter()
        .map(|a| AddressLine {
            name: a.name.clone(),
            address: a.address.clone(),
            phone: a.phone.clone(),
        })
        .collect();
    let orders = d.orders.iter().map(|o| list_row(&c, o)).collect();
    let fields = field_options(&c, chosen);
    Ok((
        PagePolicy::new().private(),
        render(&Detail {
            customer: line(&c, &d.customer),
            addresses,
            orders,
            fields,
            revealed,
            problem,
            reason,
            c,
        }),
    )
        .into_response())
}

/// `GET /customers/{id}`: the customer masked (one `read_masked` event).
pub async fn detail(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(AppError::NotFound);
    }
    detail_page(&state, c, &id, None, None, String::new(), None).await
}

/// `POST /customers/{id}/reveal` form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealForm {
    /// `name`, `email`, `phone`, `address` or `birth_date`.
    pub field: String,
    /// Why (recorded in the ledger).
    pub reason: String,
}

/// `POST /customers/{id}/reveal`: one field in the clear, on this response only (`no-store`).
/// The gateway records a read of exactly this customer and field with the reason before it
/// decrypts; the staff log records the reveal. A missing reason or unknown field reveals nothing.
pub async fn reveal(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    Path(id): Path<String>,
    SafeForm(form): SafeForm<RevealForm>,
) -> Result<Response, AppError> {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(AppError::NotFound);
    }
    let Some(field) = CustomerField::parse(&form.field) else {
        let msg = c
            .t("項目を選んでください。", "Please choose a field.")
            .to_owned();
        return detail_page(&state, c, &id, None, Some(msg), form.reason, None).await;
    };
    let reason = match check_reason(&form.reason) {
        Ok(r) => r,
        Err((ja, en)) => {
            let msg = c.t(ja, en).to_owned();
            let chosen = Some(field.as_str());
            return detail_page(&state, c, &id, None, Some(msg), form.reason, chosen).await;
        }
    };
    let acc = c.accessor("backoffice.customers.reveal").because(&reason);
    let value = match state.gateway.reveal(&acc, &id, field).await {
        Ok(v) => v,
        Err(StoreError::NotFound { .. }) => return Err(AppError::NotFound),
        Err(StoreError::Erased(_)) => {
            let msg = c
                .t(
                    "このお客様の個人情報は削除済みのため表示できません。",
                    "This customer's personal data was erased and cannot be shown.",
                )
                .to_owned();
            return detail_page(&state, c, &id, None, Some(msg), String::new(), None).await;
        }
        Err(StoreError::ReadBudgetExceeded { .. }) => {
            let msg = c.t(STOPPED_JA, STOPPED_EN).to_owned();
            return detail_page(&state, c, &id, None, Some(msg), String::new(), None).await;
        }
        Err(e) => return Err(fail("reveal")(e)),
    };
    stafflog::record(
        &state,
        &c,
        None,
        "customers.reveal",
        &id,
        json!({ "field": field.as_str() }),
    )
    .await?;
    let shown = (field_label(&c, field).to_owned(), value.expose().clone());
    detail_page(&state, c, &id, Some(shown), None, String::new(), None).await
}

/// Shown when a read crossed the member's read budget (the gateway stopped them and disabled
/// the account; an owner re-enables it from the staff page).
const STOPPED_JA: &str = "個人情報の閲覧が上限に達したため、表示せずに停止しました。\
    アカウントは無効になりました。オーナーが確認して有効に戻すまで、個人情報は表示できません。";
const STOPPED_EN: &str = "You reached the limit of customers whose personal data you may open, \
    so nothing was shown and your account was disabled until an owner checks and enables it.";

#[derive(Template)]
#[template(path = "customers/export.html")]
struct ExportPage {
    c: Ctx,
    ids: String,
    fields: Vec<FieldOption>,
    reason: String,
    problem: Option<String>,
}

/// `GET /customers/export?ids=a,b` (step-up).
#[derive(Debug, Default, Deserialize)]
pub struct ExportQuery {
    /// Preselected ids, comma-separated.
    pub ids: Option<String>,
}

/// `GET /customers/export` (step-up): the selection, fields and reason.
pub async fn export_form(c: Ctx, Query(q): Query<ExportQuery>) -> Response {
    let ids = q
        .ids
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let fields = field_options(&c, None);
    render(&ExportPage {
        c,
        ids,
        fields,
        reason: String::new(),
        problem: None,
    })
}

/// `POST /customers/export` form: ids one per line (or comma-separated), a checkbox per field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportForm {
    /// Customer ids.
    pub ids: String,
    /// Why.
    pub reason: String,
    /// Include the name.
    pub f_name: Option<String>,
    /// Include the email.
    pub f_email: Option<String>,
    /// Include the phone.
    pub f_phone: Option<String>,
    /// Include the address.
    pub f_address: Option<String>,
    /// Include the birth date.
    pub f_birth_date: Option<String>,
}

/// `POST /customers/export` (step-up, rate limit): the CSV of exactly the given customers and
/// fields. An empty selection, no field, an unknown id or no reason exports nothing; the gateway
/// records one read naming exactly these ids and fields with the reason.
pub async fn export(
    State(state): State<Arc<BackofficeState>>,
    c: Ctx,
    SafeForm(form): SafeForm<ExportForm>,
) -> Result<Response, AppError> {
    let again = |c: Ctx, problem: &str| {
        let fields = field_options(&c, None);
        render(&ExportPage {
            ids: form.ids.clone(),
            reason: form.reason.clone(),
            problem: Some(problem.to_owned()),
            fields,
            c,
        })
    };
    let mut ids: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for raw in form
        .ids
        .split([',', '\n', '\r', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if uuid::Uuid::parse_str(raw).is_err() {
            let msg = c.t(
                "顧客IDの形式が正しくないものがあります。何も出力していません。",
                "Some customer ids are malformed. Nothing was exported.",
            );
            return Ok(again(c.clone(), msg));
        }
        if seen.insert(raw) {
            ids.push(raw.to_owned());
        }
    }
    if ids.is_empty() {
        let msg = c.t(
            "出力するお客様が選ばれていません。何も出力していません。",
            "No customer was selected. Nothing was exported.",
        );
        return Ok(again(c.clone(), msg));
    }
    if ids.len() > state.config.export_max_rows {
        let msg = c.t(
            "一度に出力できる件数を超えています。",
            "Too many customers for one export.",
        );
        return Ok(again(c.clone(), msg));
    }
    let chosen = [
        (CustomerField::Name, &form.f_name),
        (CustomerField::Email, &form.f_email),
        (CustomerField::Phone, &form.f_phone),
        (CustomerField::Address, &form.f_address),
        (CustomerField::BirthDate, &form.f_birth_date),
    ];
    let fields: Vec<CustomerField> = chosen
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(f, _)| *f)
        .collect();
    if fields.is_empty() {
        let msg = c.t(
            "出力する項目を選んでください。何も出力していません。",
            "Please choose at least one field. Nothing was exported.",
        );
        return Ok(again(c.clone(), msg));
    }
    let reason = match check_reason(&form.reason) {
        Ok(r) => r,
        Err((ja, en)) => {
            let msg = c.t(ja, en);
            return Ok(again(c.clone(), msg));
        }
    };
    // The gateway refuses an unknown or erased customer before it records anything.
    let acc = c.accessor("backoffice.customers.export").because(&reason);
    let exported = match state.gateway.export_customers(&acc, &ids, &fields).await {
        Ok(e) => e,
        Err(StoreError::NotFound { .. } | StoreError::Erased(_)) => {
            let msg = c.t(
                "存在しないか削除済みのお客様が含まれています。何も出力していません。",
                "Some customers do not exist or were erased. Nothing was exported.",
            );
            return Ok(again(c.clone(), msg));
        }
        Err(StoreError::ReadBudgetExceeded { .. }) => {
            return Ok(again(c.clone(), c.t(STOPPED_JA, STOPPED_EN)));
        }
        Err(e) => return Err(fail("customer export")(e)),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut head = vec!["id".to_owned()];
    head.extend(fields.iter().map(|f| field_label(&c, *f).to_owned()));
    w.write_record(&head).map_err(fail("csv"))?;
    for e in &exported {
        let mut rec = vec![e.id.clone()];
        for f in &fields {
            let v = e
                .values
                .iter()
                .find(|(k, _)| k == f)
                .map(|(_, v)| v.expose().clone())
                .unwrap_or_default();
            rec.push(v);
        }
        w.write_record(&rec).map_err(fail("csv"))?;
    }
    let body = w.into_inner().map_err(|_| AppError::Internal)?;
    let field_names: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
    stafflog::record(
        &state,
        &c,
        None,
        "customers.export",
        "customers_csv",
        json!({ "customers": ids, "fields": field_names }),
    )
    .await?;
    let stamp = fmt_secs(state.now()).replace([' ', ':', '-'], "");
    Ok(csv_response(body, &format!("customers-{stamp}.csv")))
}
