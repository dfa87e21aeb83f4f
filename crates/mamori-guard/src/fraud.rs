//! Card testing and credential stuffing ([`mamori_store::fraud`]) raised as alerts through
//! [`Alerts::raise`]. One alert per ongoing condition: the subject is the thing counted (a
//! client address's, session's or card's keyed hash, the shop, a sign-in source's keyed hash),
//! so repeats while it is open only bump its count.

use async_trait::async_trait;
use mamori_store::fraud::{CardScope, FraudAlarm, FraudEvent};
use serde_json::json;

use crate::alert::{kinds, Alert, Alerts, Severity, Subject};

/// Raises the fraud watch's detections as alerts.
#[derive(Clone)]
pub struct GuardFraudAlarm {
    alerts: Alerts,
}

impl GuardFraudAlarm {
    /// Alerts raised through `alerts`.
    pub fn new(alerts: Alerts) -> Self {
        Self { alerts }
    }

    /// The alert an event becomes.
    pub fn alert_of(event: &FraudEvent) -> Alert {
        match event {
            FraudEvent::CardTesting {
                scope,
                key,
                declines,
                limit,
                window_secs,
                refused,
            } => {
                let subject = match scope {
                    CardScope::Shop => "card-shop".to_owned(),
                    s => format!("card-{}:{key}", s.as_str()),
                };
                Alert::new(
                    kinds::CARD_TESTING,
                    if *scope == CardScope::Shop {
                        Severity::Critical
                    } else {
                        Severity::Warning
                    },
                    Subject::Principal(subject),
                    json!({
                        "scope": scope.as_str(),
                        "declines": declines,
                        "limit": limit,
                        "window_secs": window_secs,
                        "card_payment_refused": refused,
                    }),
                )
            }
            FraudEvent::LoginStuffing {
                realm,
                source,
                accounts,
                failures,
                limit,
                window_secs,
            } => Alert::new(
                kinds::LOGIN_STUFFING,
                Severity::Warning,
                Subject::Principal(format!("login-{realm}:{source}")),
                json!({
                    "realm": realm,
                    "distinct_accounts": accounts,
                    "failures": failures,
                    "limit": limit,
                    "window_secs": window_secs,
                }),
            ),
        }
    }
}

#[async_trait]
impl FraudAlarm for GuardFraudAlarm {
    async fn raise(&self, event: FraudEvent) {
        let alert = Self::alert_of(&event);
        if let Err(e) = self.alerts.raise(&alert).await {
            tracing::error!(error = %e, kind = %alert.kind, "could not raise a fraud alert");
        }
    }
}
