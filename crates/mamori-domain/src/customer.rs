//! Customers and delivery recipients.

use serde::Deserialize;

use crate::address::Address;
use crate::birth::BirthDate;
use crate::email::Email;
use crate::labels::labelled_enum;
use crate::name::PersonName;
use crate::personal::Personal;
use crate::phone::PhoneNumber;

labelled_enum! {
    /// Gender as the customer chose to state it.
    pub enum Gender / UnknownGender ("unknown gender value", "性別の値が正しくありません") {
        /// 女性.
        Female => ("female", "女性", "Female"),
        /// 男性.
        Male => ("male", "男性", "Male"),
        /// その他.
        Other => ("other", "その他", "Other"),
        /// 回答しない.
        Unspecified => ("unspecified", "回答しない", "Prefer not to say"),
    }
}

labelled_enum! {
    /// Whether the buyer has an account.
    pub enum CustomerKind / UnknownCustomerKind ("unknown customer kind", "顧客区分の値が正しくありません") {
        /// 会員: has an account.
        Member => ("member", "会員", "Member"),
        /// ゲスト: bought without an account.
        Guest => ("guest", "ゲスト", "Guest"),
    }
}

/// The buyer (ご注文者). Every personal field is wrapped in [`Personal`], so
/// `{:?}` on a profile prints no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CustomerProfile {
    /// Member or guest.
    pub kind: CustomerKind,
    /// 氏名.
    pub name: Personal<PersonName>,
    /// メールアドレス.
    pub email: Personal<Email>,
    /// 電話番号 (optional for members).
    pub phone: Option<Personal<PhoneNumber>>,
    /// 生年月日 (optional).
    pub birth_date: Option<Personal<BirthDate>>,
    /// 性別 (optional).
    pub gender: Option<Gender>,
}

/// The delivery recipient (お届け先), who may differ from the buyer when an
/// order is a gift.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Recipient {
    /// 氏名.
    pub name: Personal<PersonName>,
    /// 住所.
    pub address: Personal<Address>,
    /// 電話番号 (carriers require one).
    pub phone: Personal<PhoneNumber>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AddressParts;

    #[test]
    fn enums_round_trip() {
        for g in Gender::ALL {
            assert_eq!(Gender::parse(g.as_str()), Ok(*g));
        }
        assert_eq!(Gender::Female.label_ja(), "女性");
        assert_eq!(CustomerKind::Guest.label_ja(), "ゲスト");
        assert_eq!(Gender::parse("F"), Err(UnknownGender::Unknown));
    }

    /// The brief's redaction test: a struct holding personal values prints
    /// none of them through `{:?}` or `{:#?}`.
    #[test]
    fn debug_of_profile_and_recipient_leaks_nothing() {
        let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
        let name =
            PersonName::parse_with_kana("山田", "花子", Some("ヤマダ"), Some("ハナコ")).unwrap();
        let profile = CustomerProfile {
            kind: CustomerKind::Member,
            name: Personal::new(name.clone()),
            email: Personal::new(Email::parse("hanako.yamada@example.jp").unwrap()),
            phone: Some(Personal::new(PhoneNumber::parse("090-1234-5678").unwrap())),
            birth_date: Some(Personal::new(
                BirthDate::parse("平成2年1月2日", today).unwrap(),
            )),
            gender: Some(Gender::Female),
        };
        let recipient = Recipient {
            name: Personal::new(name),
            address: Personal::new(
                Address::parse(&AddressParts {
                    postal_code: "100-0001".into(),
                    prefecture: "東京都".into(),
                    city: "千代田区".into(),
                    line1: "千代田1-1".into(),
                    line2: Some("メゾン101".into()),
                })
                .unwrap(),
            ),
            phone: Personal::new(PhoneNumber::parse("03-9876-5432").unwrap()),
        };
        let secrets = [
            "山田",
            "花子",
            "ヤマダ",
            "ハナコ",
            "hanako",
            "example",
            "090",
            "1234",
            "5678",
            "1990",
            "平成",
            "100",
            "0001",
            "東京",
            "千代田",
            "メゾン",
            "9876",
            "5432",
        ];
        for text in [
            format!("{profile:?}"),
            format!("{profile:#?}"),
            format!("{recipient:?}"),
            format!("{recipient:#?}"),
        ] {
            for s in secrets {
                assert!(!text.contains(s), "{s} leaked into {text}");
            }
            assert!(text.contains("[redacted]"));
        }
        // The value is still there for code that asks for it explicitly.
        assert_eq!(profile.email.expose().as_str(), "hanako.yamada@example.jp");
        assert!(format!("{profile:?}").contains("Female"));
    }
}
