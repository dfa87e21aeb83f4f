//! Customers' single-use link tokens (email confirmation, password reset), with sealed payloads.

use super::*;

impl Gateway {
    /// Issues a single-use token for `purpose` (`email_confirm`, `email_change`,
    /// `password_reset`, ...), valid for `ttl_secs`: 32 random bytes, returned base64url without
    /// padding (43 characters) to put in a link. Only its SHA-256 is stored. An optional
    /// `payload` (e.g. the new address of an email change) is sealed with the customer's key at
    /// `auth_tokens/payload/<hex of the hash>`, and that write is recorded; a token without a
    /// payload holds nothing personal and records nothing. Earlier unused tokens of the same
    /// purpose for the customer are revoked, so only the newest link works.
    pub async fn issue_token(
        &self,
        acc: &Accessor,
        customer_id: &str,
        purpose: &str,
        ttl_secs: i64,
        payload: Option<&[u8]>,
    ) -> Result<SecretString> {
        self.live_customer(customer_id).await?;
        let mut raw = Zeroizing::new([0u8; TOKEN_BYTES]);
        rand::rngs::OsRng
            .try_fill_bytes(raw.as_mut())
            .map_err(|_| StoreError::Vault(VaultError::Random))?;
        let hash = token_hash(raw.as_ref());
        let payload_ct = match payload {
            None => None,
            Some(p) => {
                self.record(
                    acc,
                    Action::Write,
                    vec![customer_id.to_owned()],
                    &[fields::TOKEN_PAYLOAD],
                )
                .await?;
                let key = self.data_key(customer_id).await?;
                Some(codec::seal(
                    &key,
                    TOKEN_TABLE,
                    PAYLOAD_COLUMN,
                    &hex::encode(&hash),
                    p,
                )?)
            }
        };
        let at = now();
        self.store.tokens_revoke(customer_id, purpose, at).await?;
        self.store
            .token_insert(&TokenRow {
                token_hash: hash,
                purpose: purpose.to_owned(),
                customer_id: customer_id.to_owned(),
                payload_ct,
                created_at: at,
                expires_at: at.saturating_add(ttl_secs),
                used_at: None,
            })
            .await?;
        Ok(SecretString::from(URL_SAFE_NO_PAD.encode(raw.as_ref())))
    }

    /// Uses a token: the customer id and the decrypted payload (if it has one) when the token is
    /// known, of this `purpose`, unused and unexpired; it cannot be used again. None otherwise,
    /// including for a malformed token (nothing tells the cases apart). Opening a payload is
    /// recorded as a read of [`fields::TOKEN_PAYLOAD`].
    pub async fn consume_token(
        &self,
        acc: &Accessor,
        token: &str,
        purpose: &str,
    ) -> Result<Option<(String, Option<Zeroizing<Vec<u8>>>)>> {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(token.as_bytes()) else {
            return Ok(None);
        };
        let raw = Zeroizing::new(raw);
        if raw.len() != TOKEN_BYTES {
            return Ok(None);
        }
        let hash = token_hash(&raw);
        let Some(row) = self.store.token_consume(&hash, purpose, now()).await? else {
            return Ok(None);
        };
        let Some(ct) = row.payload_ct else {
            return Ok(Some((row.customer_id, None)));
        };
        let (key, recorded) = tokio::join!(
            self.data_key(&row.customer_id),
            self.record(
                acc,
                Action::Read,
                vec![row.customer_id.clone()],
                &[fields::TOKEN_PAYLOAD]
            ),
        );
        recorded?;
        let plain = codec::open_bytes(
            &key?,
            TOKEN_TABLE,
            PAYLOAD_COLUMN,
            &hex::encode(&row.token_hash),
            &ct,
        )?;
        Ok(Some((row.customer_id, Some(plain))))
    }
}
