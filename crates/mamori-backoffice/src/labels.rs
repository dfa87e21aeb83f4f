//! Labels for the codes the back office stores (ledger actions and field names, staff-log
//! actions and details, payment states), in the page's language. A code without a label is
//! shown as it is, so nothing new is ever hidden.

use mamori_domain::PaymentAttemptState;
use mamori_store::access::Action;
use serde_json::Value;

use crate::ctx::Ctx;

/// A ledger action.
pub fn ledger_action(c: &Ctx, a: Action) -> &'static str {
    match a {
        Action::Read => c.t("閲覧（全文）", "Read (in full)"),
        Action::ReadMasked => c.t("閲覧（伏せ字）", "Read (masked)"),
        Action::Write => c.t("書き込み", "Write"),
        Action::Erase => c.t("消去", "Erase"),
        Action::Rewrap => c.t("鍵の付け替え", "Key re-wrap"),
        Action::Alert => c.t("検知アラート", "Detection alert"),
        Action::Approve => c.t("承認", "Approval"),
        Action::Incident => c.t("インシデント対応", "Incident desk"),
    }
}

/// A kind of alert of the guard (`file.changed`, ...).
pub fn alert_kind(c: &Ctx, kind: &str) -> String {
    let (ja, en) = match kind {
        "file.changed" => ("ファイルの変更", "File changed"),
        "file.missing" => ("ファイルの消失", "File missing"),
        "file.mode" => ("ファイル権限の変更", "File permissions changed"),
        "file.added" => ("ファイルの追加", "File added"),
        "baseline.invalid" => ("基準ファイルの不正", "Baseline invalid"),
        "script.changed" => ("スクリプトの変更", "Script changed"),
        "script.added" => ("スクリプトの追加", "Script added"),
        "script.removed" => ("スクリプトの削除", "Script removed"),
        "script.not_listed" => (
            "台帳と異なるスクリプト（スクリプト一覧）",
            "Script differs from the inventory",
        ),
        "form.action" => ("フォーム送信先の変更", "Form target changed"),
        "page.headers" => ("セキュリティヘッダーの変更", "Security headers changed"),
        "page.redirect" => ("リダイレクト先オリジンの変更", "Redirect origin changed"),
        "csp.script_blocked" => (
            "スクリプトの読み込み拒否（CSP）",
            "Script blocked by the CSP",
        ),
        other => return other.to_owned(),
    };
    c.t(ja, en).to_owned()
}

/// An alert's severity (`info`, `warning`, `critical`).
pub fn alert_severity(c: &Ctx, severity: &str) -> &'static str {
    match severity {
        "critical" => c.t("重大", "Critical"),
        "warning" => c.t("警告", "Warning"),
        "info" => c.t("情報", "Info"),
        _ => "-",
    }
}

/// An alert's state (`open`, `acknowledged`, `closed`).
pub fn alert_state(c: &Ctx, state: &str) -> &'static str {
    match state {
        "open" => c.t("未対応", "Open"),
        "acknowledged" => c.t("確認済み", "Acknowledged"),
        "closed" => c.t("終了", "Closed"),
        _ => "-",
    }
}

/// A personal field as the ledger names it (`table.column`).
pub fn ledger_field(c: &Ctx, field: &str) -> String {
    let (ja, en) = match field {
        "customers.name" => ("顧客の氏名", "Customer name"),
        "customers.email" => ("顧客のメールアドレス", "Customer email"),
        "customers.phone" => ("顧客の電話番号", "Customer phone"),
        "customers.birth_date" => ("顧客の生年月日", "Customer birth date"),
        "customers.gender" => ("顧客の性別", "Customer gender"),
        "customers.password_hash" => ("パスワード（ハッシュ）", "Password (hash)"),
        "addresses.name" => ("住所録の氏名", "Address book name"),
        "addresses.address" => ("住所録の住所", "Address book address"),
        "addresses.phone" => ("住所録の電話番号", "Address book phone"),
        "orders.buyer_name" => ("購入者の氏名", "Buyer name"),
        "orders.buyer_email" => ("購入者のメールアドレス", "Buyer email"),
        "orders.buyer_phone" => ("購入者の電話番号", "Buyer phone"),
        "orders.buyer_address" => ("購入者の住所", "Buyer address"),
        "orders.summary" => ("注文履歴", "Order history"),
        "order_items.personalisation" => ("名入れ", "Name print"),
        "order_items.noshi" => ("のし", "Noshi"),
        "shipments.name" => ("お届け先の氏名", "Recipient name"),
        "shipments.address" => ("お届け先の住所", "Recipient address"),
        "shipments.phone" => ("お届け先の電話番号", "Recipient phone"),
        "customer_keys.wrapped" => ("顧客の暗号鍵", "Customer data key"),
        "mail_outbox.payload" => ("メール本文", "Mail body"),
        "auth_tokens.payload" => ("確認リンクの内容", "Link token payload"),
        other => return other.to_owned(),
    };
    c.t(ja, en).to_owned()
}

/// A staff-log action code (`orders.ship`, `customers.reveal`, ...).
pub fn log_action(c: &Ctx, code: &str) -> String {
    let (ja, en) = match code {
        "orders.payment_confirmed" => ("入金確認", "Payment confirmed"),
        "orders.start_preparing" => ("発送準備開始", "Preparation started"),
        "orders.ship" => ("発送", "Shipped"),
        "orders.confirm_delivery" => ("配達完了", "Delivered"),
        "orders.cancel" => ("注文キャンセル", "Order cancelled"),
        "orders.refund" => ("返金", "Refund"),
        "orders.partial_refund" => ("一部返金", "Partial refund"),
        "orders.export" => ("出荷データ書き出し", "Shipping CSV export"),
        "customers.reveal" => ("顧客情報の表示", "Customer field revealed"),
        "customers.export" => ("顧客データ書き出し", "Customer export"),
        "access.denied" => ("権限のない操作（拒否）", "Access denied"),
        "alerts.acknowledge" => ("アラートの確認", "Alert acknowledged"),
        "guard.approve" => ("ファイル基準の承認", "File baseline approved"),
        "settings.save" | "settings.update" => ("ショップ設定の変更", "Settings changed"),
        "settings.shipping" => ("送料・代引き手数料の変更", "Shipping and fees changed"),
        "products.create" => ("商品の登録", "Product created"),
        "products.update" => ("商品の変更", "Product changed"),
        "products.stock" => ("在庫の変更", "Stock changed"),
        "products.image_add" => ("商品画像の追加", "Product image added"),
        "staff.invite" => ("スタッフの招待", "Staff invited"),
        "staff.link" => ("登録リンクの再発行", "Enrolment link reissued"),
        "staff.role" => ("役割の変更", "Role changed"),
        "staff.disable" => ("アカウントの停止", "Account disabled"),
        "staff.enable" => ("アカウントの再開", "Account enabled"),
        "staff.enrol_start" => ("登録の開始", "Enrolment started"),
        "staff.enrolled" => ("登録の完了", "Enrolled"),
        "auth.logout" => ("ログアウト", "Logged out"),
        "auth.login" => ("ログイン", "Signed in"),
        "auth.login_failed" => ("ログイン失敗", "Sign-in failed"),
        "canary.list" => ("カナリア顧客の一覧表示", "Canary customers listed"),
        "canary.plant" => ("カナリア顧客の追加", "Canary customers planted"),
        "canary.mail_open" => ("カナリア宛てメールの表示", "Canary mail opened"),
        "auth.step_up" => ("再認証", "Step-up"),
        "staff.totp" => ("認証アプリの設定", "Authenticator app set"),
        "account.password" => ("パスワードの変更", "Password changed"),
        "account.passkey_add" => ("パスキーの追加", "Passkey added"),
        "account.passkey_remove" => ("パスキーの削除", "Passkey removed"),
        "account.totp_set" => ("認証アプリの設定", "Authenticator app set"),
        "account.totp_remove" => ("認証アプリの削除", "Authenticator app removed"),
        "account.recovery_codes" => ("リカバリーコードの再発行", "Recovery codes renewed"),
        other => return other.to_owned(),
    };
    c.t(ja, en).to_owned()
}

/// A detail key of the staff log.
fn detail_key(c: &Ctx, key: &str) -> String {
    let (ja, en) = match key {
        "order_number" => ("注文番号", "Order number"),
        "from" => ("変更前", "From"),
        "to" => ("変更後", "To"),
        "field" => ("項目", "Field"),
        "fields" => ("項目", "Fields"),
        "orders" => ("注文", "Orders"),
        "customers" => ("顧客", "Customers"),
        "rows" => ("件数", "Rows"),
        "role" => ("役割", "Role"),
        "tracking_number" => ("お問い合わせ番号", "Tracking number"),
        "amount" => ("金額", "Amount"),
        "sku" => ("商品コード", "SKU"),
        "stock" => ("在庫", "Stock"),
        other => return other.to_owned(),
    };
    c.t(ja, en).to_owned()
}

fn detail_value(c: &Ctx, key: &str, v: &Value) -> String {
    match v {
        Value::String(s) if matches!(key, "from" | "to") => mamori_domain::OrderState::parse(s)
            .map_or_else(|_| s.clone(), |st| crate::orders::state_label(c, &st)),
        Value::String(s) if key == "field" => mamori_store::gateway::CustomerField::parse(s)
            .map_or_else(
                || s.clone(),
                |f| crate::customers::field_label(c, f).to_owned(),
            ),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.len() > 5 => {
            format!("{}{}", items.len(), c.t("件", " items"))
        }
        Value::Array(items) => items
            .iter()
            .map(|i| detail_value(c, key, i))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Bool(true) => c.t("はい", "yes").to_owned(),
        Value::Bool(false) => c.t("いいえ", "no").to_owned(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// A staff-log entry's details (stored as JSON) as `項目：値` pairs, one per line.
pub fn log_detail(c: &Ctx, json: &str) -> Vec<String> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| format!("{}：{}", detail_key(c, k), detail_value(c, k, v)))
            .collect(),
        Ok(Value::Null) => Vec::new(),
        Ok(other) => vec![other.to_string()],
        Err(_) => vec![json.to_owned()],
    }
}

/// A payment attempt's state.
pub fn payment_status(c: &Ctx, status: PaymentAttemptState) -> String {
    c.t(status.label_ja(), status.label_en()).to_owned()
}

/// The payment provider's name.
pub fn provider(c: &Ctx, code: &str) -> String {
    match code {
        "sandbox" => c.t("テスト決済（サンドボックス）", "sandbox").to_owned(),
        other => other.to_owned(),
    }
}
