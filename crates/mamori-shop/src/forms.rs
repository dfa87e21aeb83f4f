//! Forms that answer next to each field, in the page's language, and keep what the user typed.
//!
//! A form arrives as a map of fields ([`mamori_web::errors::SafeForm`] of a `HashMap`); only the
//! names a page declares are accepted (anything else is a 400 and changes nothing). Each field is
//! then parsed into a domain type; an error is recorded under the field's name with the domain
//! error's own bilingual message, which never quotes the input.

use std::collections::{BTreeMap, HashMap};

use mamori_domain::{
    Address, AddressParts, Email, Localized, PersonName, Personal, PhoneNumber, Recipient,
};
use mamori_web::{errors::AppError, i18n::Lang};

use crate::members::language;

/// The fields of a person with an address, under a prefix (`buyer_`, `ship_`, `addr_`).
pub const PERSON_FIELDS: &[&str] = &[
    "family",
    "given",
    "family_kana",
    "given_kana",
    "postal_code",
    "prefecture",
    "city",
    "line1",
    "line2",
    "phone",
];

/// Longest value of any one field (characters); longer is a field error, not a crash.
pub const MAX_FIELD_CHARS: usize = 200;

/// What was typed and what is wrong with it. `Debug` shows field names only.
#[derive(Clone, Default)]
pub struct FormState {
    values: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    lang: Lang,
}

impl std::fmt::Debug for FormState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormState")
            .field("fields", &self.values.keys().collect::<Vec<_>>())
            .field("errors", &self.errors.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl FormState {
    /// An empty form (first display).
    pub fn new(lang: Lang) -> Self {
        Self {
            lang,
            ..Self::default()
        }
    }

    /// Takes the submitted fields. A name not in `allowed` is a 400. Values listed in `secret`
    /// (passwords) are used for parsing but never sent back to the page.
    pub fn from_submission(
        lang: Lang,
        map: HashMap<String, String>,
        allowed: &[&str],
    ) -> Result<Self, AppError> {
        let mut values = BTreeMap::new();
        for (k, v) in map {
            if !allowed.contains(&k.as_str()) {
                return Err(AppError::BadRequest);
            }
            values.insert(k, v);
        }
        Ok(Self {
            values,
            errors: BTreeMap::new(),
            lang,
        })
    }

    /// Every allowed name of a person block under `prefix`.
    pub fn person_names(prefix: &str) -> Vec<String> {
        PERSON_FIELDS
            .iter()
            .map(|f| format!("{prefix}{f}"))
            .collect()
    }

    /// The value typed in `name` ("" when absent).
    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    /// Every value, by field name.
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// The value of `prefix` + `name`.
    pub fn pv(&self, prefix: &str, name: &str) -> &str {
        self.value(&format!("{prefix}{name}"))
    }

    /// True when the checkbox or radio `name` holds `value`.
    pub fn is(&self, name: &str, value: &str) -> bool {
        self.value(name) == value
    }

    /// Sets a value (pre-filling a form).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_owned(), value.into());
    }

    /// Forgets a value (a password after a failed submission).
    pub fn forget(&mut self, name: &str) {
        self.values.remove(name);
    }

    /// The error shown next to `name`.
    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }

    /// The error of `prefix` + `name`.
    pub fn pe(&self, prefix: &str, name: &str) -> Option<&str> {
        self.error(&format!("{prefix}{name}"))
    }

    /// True when any field is wrong.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Records an error for `name` in the page's language.
    pub fn fail(&mut self, name: &str, ja: &str, en: &str) {
        let text = match self.lang {
            Lang::Ja => ja,
            Lang::En => en,
        };
        self.errors
            .entry(name.to_owned())
            .or_insert_with(|| text.to_owned());
    }

    /// Records the domain error of `result` under `name`, or returns the value.
    pub fn check<T, E: Localized>(&mut self, name: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                let text = e.message(language(self.lang)).into_owned();
                self.errors.entry(name.to_owned()).or_insert(text);
                None
            }
        }
    }

    /// The trimmed value of a field that must not be empty nor too long.
    pub fn required(&mut self, name: &str) -> Option<String> {
        let v = self.value(name).trim().to_owned();
        if v.is_empty() {
            self.fail(name, "入力してください。", "Please fill in this field.");
            return None;
        }
        self.bounded(name, v)
    }

    /// The trimmed value of an optional field (None when blank).
    pub fn optional(&mut self, name: &str) -> Option<String> {
        let v = self.value(name).trim().to_owned();
        if v.is_empty() {
            return None;
        }
        self.bounded(name, v)
    }

    fn bounded(&mut self, name: &str, v: String) -> Option<String> {
        if v.chars().count() > MAX_FIELD_CHARS {
            self.fail(name, "長すぎます。", "Too long.");
            return None;
        }
        Some(v)
    }

    /// An email address from `name`.
    pub fn email(&mut self, name: &str) -> Option<Personal<Email>> {
        let raw = self.required(name)?;
        self.check(name, Email::parse(&raw)).map(Personal::new)
    }

    /// A person's name (with optional kana) from a block.
    pub fn person_name(&mut self, prefix: &str) -> Option<Personal<PersonName>> {
        let family = self.required(&format!("{prefix}family"));
        let given = self.required(&format!("{prefix}given"));
        let family_kana = self.optional(&format!("{prefix}family_kana"));
        let given_kana = self.optional(&format!("{prefix}given_kana"));
        let (family, given) = (family?, given?);
        self.check(
            &format!("{prefix}family"),
            PersonName::parse_with_kana(
                &family,
                &given,
                family_kana.as_deref(),
                given_kana.as_deref(),
            ),
        )
        .map(Personal::new)
    }

    /// A phone number from a block.
    pub fn phone(&mut self, prefix: &str) -> Option<Personal<PhoneNumber>> {
        let name = format!("{prefix}phone");
        let raw = self.required(&name)?;
        self.check(&name, PhoneNumber::parse(&raw))
            .map(Personal::new)
    }

    /// An address from a block; the error lands on the part that is wrong when it can tell.
    pub fn address(&mut self, prefix: &str) -> Option<Personal<Address>> {
        let postal = self.required(&format!("{prefix}postal_code"));
        let prefecture = self.required(&format!("{prefix}prefecture"));
        let city = self.required(&format!("{prefix}city"));
        let line1 = self.required(&format!("{prefix}line1"));
        let line2 = self.optional(&format!("{prefix}line2"));
        let parts = AddressParts {
            postal_code: postal?,
            prefecture: prefecture?,
            city: city?,
            line1: line1?,
            line2,
        };
        if let Err(e) = mamori_domain::PostalCode::parse(&parts.postal_code) {
            self.check::<(), _>(&format!("{prefix}postal_code"), Err(e));
            return None;
        }
        if let Err(e) = mamori_domain::Prefecture::parse(&parts.prefecture) {
            self.check::<(), _>(&format!("{prefix}prefecture"), Err(e));
            return None;
        }
        self.check(&format!("{prefix}city"), Address::parse(&parts))
            .map(Personal::new)
    }

    /// A whole recipient (name, address, phone) from a block.
    pub fn recipient(&mut self, prefix: &str) -> Option<Recipient> {
        let name = self.person_name(prefix);
        let address = self.address(prefix);
        let phone = self.phone(prefix);
        Some(Recipient {
            name: name?,
            address: address?,
            phone: phone?,
        })
    }

    /// Pre-fills a block from a recipient.
    pub fn fill_recipient(&mut self, prefix: &str, r: &Recipient) {
        let n = r.name.expose();
        self.set(&format!("{prefix}family"), n.family());
        self.set(&format!("{prefix}given"), n.given());
        self.set(
            &format!("{prefix}family_kana"),
            n.family_kana().unwrap_or(""),
        );
        self.set(&format!("{prefix}given_kana"), n.given_kana().unwrap_or(""));
        let a = r.address.expose();
        self.set(&format!("{prefix}postal_code"), a.postal_code().to_string());
        self.set(&format!("{prefix}prefecture"), a.prefecture().label_ja());
        self.set(&format!("{prefix}city"), a.city());
        self.set(&format!("{prefix}line1"), a.line1());
        self.set(&format!("{prefix}line2"), a.line2().unwrap_or(""));
        self.set(&format!("{prefix}phone"), r.phone.expose().digits());
    }
}

/// The 47 prefectures for a `<select>`: (value, Japanese name).
pub fn prefectures() -> Vec<(&'static str, &'static str)> {
    (1u8..=47)
        .filter_map(mamori_domain::Prefecture::from_code)
        // The Japanese name is both what is shown and what is sent, so a typed or pre-filled
        // value (`東京都`) selects its option again when the form comes back with errors.
        .map(|p| (p.label_ja(), p.label_ja()))
        .collect()
}
