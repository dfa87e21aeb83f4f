//! The gateway's detections (mass-read stops, a customer session reading another customer,
//! canary reads) raised as alerts through [`Alerts::raise`], the one place alerts are raised.
//!
//! The gateway lives in `mamori-store`, below this crate, so it names only the
//! [`mamori_store::ReadAlarm`] trait; [`GuardReadAlarm`] implements it here, and `mamori serve`
//! hands it to the gateway ([`mamori_store::Gateway::set_read_alarm`]). The gateway's refusal and
//! stop are already durable when the alarm is called; the alert follows in the same request.

use async_trait::async_trait;
use mamori_store::{Gateway, ReadAlarm, ReadAlarmEvent};
use serde_json::json;

use crate::alert::{kinds, Alert, AlertConfig, Alerts, Severity, Subject};

/// Raises the gateway's detections as alerts.
#[derive(Clone, Debug)]
pub struct GuardReadAlarm {
    config: AlertConfig,
}

impl GuardReadAlarm {
    /// Alerts delivered as `config` says (the same configuration as every other alert).
    pub fn new(config: AlertConfig) -> Self {
        Self { config }
    }

    /// The alert an event becomes.
    pub fn alert_of(event: &ReadAlarmEvent) -> Alert {
        match event {
            ReadAlarmEvent::BudgetStop {
                principal,
                key,
                window_secs,
                opened,
                max,
                purpose,
                request_id,
                staff_disabled,
            } => Alert::new(
                kinds::READ_BUDGET,
                Severity::Critical,
                Subject::Principal(key.clone()),
                json!({
                    "principal": principal,
                    "window_secs": window_secs,
                    "opened": opened,
                    "limit": max,
                    "purpose": purpose,
                    "request_id": request_id,
                    "staff_disabled": staff_disabled,
                }),
            ),
            ReadAlarmEvent::CrossCustomer {
                customer,
                others,
                purpose,
                request_id,
            } => Alert::new(
                kinds::READ_CROSS_CUSTOMER,
                Severity::Critical,
                Subject::Principal(format!("customer:{customer}")),
                json!({
                    "customer": customer,
                    "others": others,
                    "purpose": purpose,
                    "request_id": request_id,
                }),
            ),
            ReadAlarmEvent::CanaryRead {
                principal,
                canary,
                purpose,
                request_id,
                fields,
            } => Alert::new(
                kinds::CANARY_READ,
                Severity::Critical,
                Subject::Customer(canary.clone()),
                json!({
                    "principal": principal,
                    "purpose": purpose,
                    "request_id": request_id,
                    "fields": fields,
                }),
            ),
        }
    }
}

#[async_trait]
impl ReadAlarm for GuardReadAlarm {
    async fn raise(&self, gateway: &Gateway, event: ReadAlarmEvent) {
        let alerts = Alerts::new(gateway.clone(), self.config.clone());
        let alert = Self::alert_of(&event);
        if let Err(e) = alerts.raise(&alert).await {
            tracing::error!(error = %e, kind = %alert.kind, "could not raise a read alert");
        }
    }
}
