//! Display labels of stored codes that more than one set of pages shows: the shop's notices
//! and the incident desk's public notice both name the kinds of items a scope's field codes
//! belong to. The store keeps the codes; the words people read for them live here, in the web
//! layer, Japanese first.

use std::collections::BTreeSet;

/// Coarse kinds of items a scope's field code belongs to, as a public page or a person reads
/// them (Japanese, English). Unknown codes are "other items".
pub fn item_kind(code: &str) -> (&'static str, &'static str) {
    let last = code.rsplit('.').next().unwrap_or(code);
    if code.starts_with("card.") {
        return ("クレジットカード情報", "Credit card details");
    }
    match last {
        "name" | "buyer_name" | "name_kana" | "kana" => ("氏名", "Name"),
        "address" | "buyer_address" | "postal_code" => ("住所", "Address"),
        "email" | "buyer_email" => ("メールアドレス", "Email address"),
        "phone" | "buyer_phone" => ("電話番号", "Phone number"),
        "birth_date" => ("生年月日", "Date of birth"),
        "gender" => ("性別", "Gender"),
        "personalisation" => ("名入れの内容", "Personalisation text"),
        "noshi" => ("のしの内容", "Noshi text"),
        _ if code.starts_with("addresses.") => ("住所", "Address"),
        _ => ("その他の項目", "Other items"),
    }
}

/// The kinds ([`item_kind`]) of `codes`, once each, in a stable order.
pub fn item_kinds<'a>(
    codes: impl IntoIterator<Item = &'a str>,
) -> Vec<(&'static str, &'static str)> {
    let set: BTreeSet<(&'static str, &'static str)> = codes.into_iter().map(item_kind).collect();
    let mut out: Vec<_> = set.into_iter().collect();
    // The order people expect: name, address, email, phone, ... (by the English label's rank).
    let rank = |en: &str| match en {
        "Name" => 0,
        "Address" => 1,
        "Email address" => 2,
        "Phone number" => 3,
        "Date of birth" => 4,
        "Gender" => 5,
        "Credit card details" => 6,
        "Personalisation text" => 7,
        "Noshi text" => 8,
        _ => 9,
    };
    out.sort_by_key(|(_, en)| rank(en));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_codes() {
        assert_eq!(item_kind("customers.name").0, "氏名");
        assert_eq!(item_kind("orders.buyer_address").0, "住所");
        assert_eq!(item_kind("shipments.phone").0, "電話番号");
        assert_eq!(item_kind("card.number").0, "クレジットカード情報");
        assert_eq!(item_kind("something.else").0, "その他の項目");
        let kinds = item_kinds(["customers.email", "customers.name", "orders.buyer_name"]);
        assert_eq!(
            kinds,
            vec![("氏名", "Name"), ("メールアドレス", "Email address")]
        );
    }
}
