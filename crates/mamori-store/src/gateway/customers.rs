//! Customers: registration, profiles, address books, sign-in, password and email changes, erasure and key rotation.

use super::*;

impl Gateway {
    /// Whether a customer with this id exists (erased ones too). Opens nothing and names no
    /// personal value, so it records nothing.
    pub async fn customer_exists(&self, customer_id: &str) -> Result<bool> {
        Ok(self.store.customer(customer_id).await?.is_some())
    }

    /// Registers a member (with a password) or a guest (without), recording the collection.
    pub async fn register_customer(
        &self,
        acc: &Accessor,
        profile: &CustomerProfile,
        password: Option<&SecretString>,
    ) -> Result<String> {
        let id = new_id();
        let email_bidx = match profile.kind {
            CustomerKind::Member => Some(self.email_index(profile.email.expose()).to_vec()),
            CustomerKind::Guest => None,
        };
        if let Some(b) = &email_bidx {
            if self.store.member_by_email_bidx(b).await?.is_some() {
                return Err(StoreError::DuplicateMember);
            }
        }
        let password_hash = match password {
            Some(p) => Some(self.passwords.hash(p).await?),
            None => None,
        };
        let (key, wrapped) = self.keys.load().new_data_key(&owner(&id))?;
        self.record(acc, Action::Write, vec![id.clone()], fields::PROFILE)
            .await?;
        let now = now_us();
        let mut row = CustomerRow {
            id: id.clone(),
            kind: profile.kind.as_str().to_owned(),
            email_bidx,
            password_hash,
            created_at: now,
            updated_at: now,
            ..Default::default()
        };
        codec::seal_profile(&key, &mut row, profile)?;
        let key_row = CustomerKeyRow {
            customer_id: id.clone(),
            master_key_id: wrapped.master_key_id.clone(),
            wrapped: wrapped.to_bytes(),
        };
        self.store.insert_customer(&row, &key_row).await?;
        self.store
            .customer_search_set(&id, &self.search_indexes(profile))
            .await?;
        Ok(id)
    }

    /// The blind indexes a customer is found by in the back office (see
    /// `mamori_domain::search::customer_search_keys`).
    fn search_indexes(&self, profile: &CustomerProfile) -> Vec<Vec<u8>> {
        mamori_domain::search::customer_search_keys(profile)
            .iter()
            .map(|k| self.keys.load().blind_index(SEARCH_INDEX, k).to_vec())
            .collect()
    }

    /// Customers whose name, family name, reading, phone or email is exactly `query` (after
    /// normalisation), found by blind index, newest first (at most `limit`), masked. Recorded as
    /// one [`Action::ReadMasked`] event naming the customers found, as a listing is.
    pub async fn search_customers_masked(
        &self,
        acc: &Accessor,
        query: &str,
        limit: i64,
    ) -> Result<Vec<crate::gateway::MaskedCustomer>> {
        let wanted: Vec<Vec<u8>> = mamori_domain::search::customer_query_keys(query)
            .iter()
            .map(|k| self.keys.load().blind_index(SEARCH_INDEX, k).to_vec())
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let ids = self.store.customers_by_search_bidx(&wanted, limit).await?;
        self.customers_masked_by_id(acc, &ids).await
    }

    /// The blind index of an email (normalised for lookup).
    pub fn email_index(&self, email: &Email) -> [u8; 32] {
        self.keys
            .load()
            .blind_index(EMAIL_INDEX, &email.normalised_for_lookup())
    }

    /// The member with this email, if any. Hands out no personal value, so nothing is recorded.
    pub async fn find_member(&self, email: &Email) -> Result<Option<String>> {
        self.store
            .member_by_email_bidx(&self.email_index(email))
            .await
    }

    /// Checks a member's password; upgrades the stored hash when the parameters changed.
    pub async fn check_password(&self, customer_id: &str, password: &SecretString) -> Result<bool> {
        let Some(mut row) = self.store.customer(customer_id).await? else {
            return Ok(false);
        };
        let Some(phc) = row.password_hash.clone() else {
            return Ok(false);
        };
        match self.passwords.verify(password, phc).await? {
            PasswordCheck::Invalid => Ok(false),
            PasswordCheck::Valid { needs_rehash } => {
                if needs_rehash {
                    row.password_hash = Some(self.passwords.hash(password).await?);
                    row.updated_at = now_us();
                    self.store.update_customer(&row).await?;
                }
                Ok(true)
            }
        }
    }

    /// Reads a customer's profile.
    pub async fn customer_profile(
        &self,
        acc: &Accessor,
        customer_id: &str,
    ) -> Result<CustomerProfile> {
        // The sealed row and the wrapped key are fetched while the event is being committed;
        // nothing is decrypted before the event is durable.
        let (row, key, recorded) = tokio::join!(
            self.store.customer(customer_id),
            self.data_key(customer_id),
            self.record(
                acc,
                Action::Read,
                vec![customer_id.to_owned()],
                fields::PROFILE
            ),
        );
        recorded?;
        let row = row?.ok_or(StoreError::NotFound { what: "customer" })?;
        if row.erased_at.is_some() {
            return Err(StoreError::Erased(customer_id.to_owned()));
        }
        codec::open_profile(&key?, &row)
    }

    /// Replaces a customer's profile (the email index follows the email).
    pub async fn update_profile(
        &self,
        acc: &Accessor,
        customer_id: &str,
        profile: &CustomerProfile,
    ) -> Result<()> {
        self.update_profile_with_mail(acc, customer_id, profile, None)
            .await
    }

    /// [`Gateway::update_profile`] that also queues `mail` (sealed with the customer's key) in the
    /// same transaction. One event records the profile fields and the mail.
    pub async fn update_profile_with_mail(
        &self,
        acc: &Accessor,
        customer_id: &str,
        profile: &CustomerProfile,
        mail: Option<MailDraft>,
    ) -> Result<()> {
        let mut row = self
            .store
            .customer(customer_id)
            .await?
            .ok_or(StoreError::NotFound { what: "customer" })?;
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            &fields::with_mail(fields::PROFILE, mail.is_some()),
        )
        .await?;
        let key = self.data_key(customer_id).await?;
        if row.kind == "member" {
            row.email_bidx = Some(self.email_index(profile.email.expose()).to_vec());
        }
        codec::seal_profile(&key, &mut row, profile)?;
        row.updated_at = now_us();
        let mail = mail_rows(&key, customer_id, mail.as_ref())?;
        self.store.update_customer_with_mail(&row, &mail).await?;
        self.store
            .customer_search_set(customer_id, &self.search_indexes(profile))
            .await
    }

    /// Adds an address-book entry.
    pub async fn add_address(
        &self,
        acc: &Accessor,
        customer_id: &str,
        recipient: &Recipient,
    ) -> Result<String> {
        self.add_address_with_mail(acc, customer_id, recipient, None)
            .await
    }

    /// [`Gateway::add_address`] that also queues `mail` in the same transaction.
    pub async fn add_address_with_mail(
        &self,
        acc: &Accessor,
        customer_id: &str,
        recipient: &Recipient,
        mail: Option<MailDraft>,
    ) -> Result<String> {
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            &fields::with_mail(fields::ADDRESSES, mail.is_some()),
        )
        .await?;
        let key = self.data_key(customer_id).await?;
        let id = new_id();
        let (name_ct, address_ct, phone_ct) =
            codec::seal_recipient(&key, "addresses", &id, recipient)?;
        let mail = mail_rows(&key, customer_id, mail.as_ref())?;
        self.store
            .insert_address_with_mail(
                &AddressRow {
                    id: id.clone(),
                    customer_id: customer_id.to_owned(),
                    name_ct,
                    address_ct,
                    phone_ct,
                    created_at: now_us(),
                },
                &mail,
            )
            .await?;
        Ok(id)
    }

    /// Removes an address-book entry of the customer; false if they have none with that id.
    /// Recorded as a write of the address-book fields.
    pub async fn delete_address(
        &self,
        acc: &Accessor,
        customer_id: &str,
        address_id: &str,
    ) -> Result<bool> {
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            fields::ADDRESSES,
        )
        .await?;
        self.store.delete_address(customer_id, address_id).await
    }

    /// A customer's address book.
    pub async fn addresses(
        &self,
        acc: &Accessor,
        customer_id: &str,
    ) -> Result<Vec<(String, Recipient)>> {
        let rows = self.store.addresses(customer_id).await?;
        self.record(
            acc,
            Action::Read,
            vec![customer_id.to_owned()],
            fields::ADDRESSES,
        )
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.data_key(customer_id).await?;
        rows.iter()
            .map(|r| {
                let rec = codec::open_recipient(
                    &key,
                    "addresses",
                    &r.id,
                    &r.name_ct,
                    &r.address_ct,
                    &r.phone_ct,
                )?;
                Ok((r.id.clone(), rec))
            })
            .collect()
    }

    /// Erases a customer: destroys their data key and clears their sealed values. Orders keep their
    /// amounts (what tax law requires) but not their personal parts.
    pub async fn erase_customer(&self, acc: &Accessor, customer_id: &str) -> Result<()> {
        self.record(
            acc,
            Action::Erase,
            vec![customer_id.to_owned()],
            fields::DATA_KEY,
        )
        .await?;
        self.store.customer_search_set(customer_id, &[]).await?;
        self.store.erase_customer(customer_id, now_us()).await
    }

    /// Re-wraps every data key not yet under the active master key; returns how many were moved.
    /// Runs in batches, so the shop keeps serving: a key is readable under the old and new master key
    /// alike until it is moved.
    pub async fn rotate_data_keys(&self, acc: &Accessor, batch: i64) -> Result<usize> {
        let active = self.keys.load().active_master_key_id().to_owned();
        let mut moved = 0;
        loop {
            let rows = self.store.keys_not_wrapped_by(&active, batch).await?;
            if rows.is_empty() {
                return Ok(moved);
            }
            let customers: Vec<String> = rows.iter().map(|r| r.customer_id.clone()).collect();
            self.record(acc, Action::Rewrap, customers, fields::DATA_KEY)
                .await?;
            let mut updated = Vec::with_capacity(rows.len());
            for r in rows {
                let wrapped = WrappedKey::from_bytes(&r.wrapped)?;
                let new = self.keys.load().rewrap(&owner(&r.customer_id), &wrapped)?;
                updated.push(CustomerKeyRow {
                    customer_id: r.customer_id,
                    master_key_id: new.master_key_id.clone(),
                    wrapped: new.to_bytes(),
                });
            }
            moved += updated.len();
            self.store.update_wrapped_keys(&updated).await?;
        }
    }

    /// Sets a member's new password (Argon2id with the pepper, hashed off the async threads),
    /// queueing `mail` (e.g. "your password was changed") in the same transaction. Recorded as a
    /// write of [`fields::PASSWORD`] (and the mail).
    pub async fn change_password(
        &self,
        acc: &Accessor,
        customer_id: &str,
        new_password: &SecretString,
        mail: Option<MailDraft>,
    ) -> Result<()> {
        let mut row = self.live_customer(customer_id).await?;
        if row.kind != "member" {
            return Err(StoreError::Conflict {
                what: "only members have a password",
            });
        }
        let hash = self.passwords.hash(new_password).await?;
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            &fields::with_mail(&[fields::PASSWORD], mail.is_some()),
        )
        .await?;
        let rows = match &mail {
            Some(m) => mail_rows(&self.data_key(customer_id).await?, customer_id, Some(m))?,
            None => Vec::new(),
        };
        row.password_hash = Some(hash);
        row.updated_at = now_us();
        self.store.update_customer_with_mail(&row, &rows).await
    }

    /// Replaces a customer's email address (sealed) and, for a member, its blind index, so
    /// [`Gateway::find_member`] and login follow the new address at once.
    /// [`StoreError::DuplicateMember`] when another member has it. Confirm the new address
    /// first (an `email_change` token carrying it); `email_verified_at` is left as it is.
    /// `mail` (e.g. a notice to the old address) is queued in the same transaction.
    pub async fn change_email(
        &self,
        acc: &Accessor,
        customer_id: &str,
        new_email: &Personal<Email>,
        mail: Option<MailDraft>,
    ) -> Result<()> {
        let mut row = self.live_customer(customer_id).await?;
        let bidx = (row.kind == "member").then(|| self.email_index(new_email.expose()).to_vec());
        if let Some(b) = &bidx {
            if let Some(other) = self.store.member_by_email_bidx(b).await? {
                if other != customer_id {
                    return Err(StoreError::DuplicateMember);
                }
            }
        }
        self.record(
            acc,
            Action::Write,
            vec![customer_id.to_owned()],
            &fields::with_mail(&[fields::EMAIL], mail.is_some()),
        )
        .await?;
        let key = self.data_key(customer_id).await?;
        codec::seal_email(&key, &mut row, new_email.expose())?;
        if bidx.is_some() {
            row.email_bidx = bidx;
        }
        row.updated_at = now_us();
        let rows = mail_rows(&key, customer_id, mail.as_ref())?;
        self.store.update_customer_with_mail(&row, &rows).await
    }

    /// Marks a member's email address as confirmed (after [`Gateway::consume_token`] of an
    /// `email_confirm` token). Nothing personal is read or written, so nothing is recorded.
    pub async fn verify_email(&self, acc: &Accessor, customer_id: &str) -> Result<()> {
        let _ = acc;
        self.store.mark_email_verified(customer_id, now()).await
    }

    /// Checks a member's login. An unknown email is verified against a dummy hash made with the
    /// ring's own parameters, so it costs what a wrong password costs and the answer does not
    /// reveal who is a member; [`LoginOutcome::Unverified`] is only told after the right password.
    /// Upgrades the stored hash when the parameters changed. Hands out no personal value, so
    /// nothing is recorded (the shop records the login itself).
    pub async fn member_login(
        &self,
        acc: &Accessor,
        email: &Email,
        password: &SecretString,
    ) -> Result<LoginOutcome> {
        let _ = acc;
        let dummy = self.passwords.dummy_hash().await?;
        let id = self.find_member(email).await?;
        // The same round trip for an unknown email, with an id no row has.
        let row = self.store.customer(id.as_deref().unwrap_or("")).await?;
        let member = row.filter(|r| r.erased_at.is_none() && r.kind == "member");
        let stored = member.as_ref().and_then(|r| r.password_hash.clone());
        let known = stored.is_some();
        let check = self
            .passwords
            .verify(password, stored.unwrap_or(dummy))
            .await?;
        let (Some(mut row), true) = (member, known) else {
            return Ok(LoginOutcome::Invalid);
        };
        match check {
            PasswordCheck::Invalid => Ok(LoginOutcome::Invalid),
            PasswordCheck::Valid { needs_rehash } => {
                if needs_rehash {
                    row.password_hash = Some(self.passwords.hash(password).await?);
                    row.updated_at = now_us();
                    self.store.update_customer(&row).await?;
                }
                let customer_id = row.id;
                Ok(if row.email_verified_at.is_some() {
                    LoginOutcome::Ok { customer_id }
                } else {
                    LoginOutcome::Unverified { customer_id }
                })
            }
        }
    }

    /// A customer row that exists and is not erased.
    pub(super) async fn live_customer(&self, customer_id: &str) -> Result<CustomerRow> {
        let row = self
            .store
            .customer(customer_id)
            .await?
            .ok_or(StoreError::NotFound { what: "customer" })?;
        if row.erased_at.is_some() {
            return Err(StoreError::Erased(customer_id.to_owned()));
        }
        Ok(row)
    }
}
