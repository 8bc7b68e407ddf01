//! The `lrs-submit` consumer: statements other services put on `lyceum.xapi.submit` (the
//! statement JSON as payload), stored under the platform's authority. Redelivered events are
//! absorbed by the inbox, resent statements by statement idempotency; a different statement
//! under a known id is refused for good.

use lyceum_bus::{EventHandler, HandlerError};
use lyceum_proto::events::v1::Envelope;
use lyceum_store::Tx;
use lyceum_xapi::Statement;
use lyceum_xapi::platform::Identity;
use serde_json::Value;

use crate::access::platform_authority;
use crate::error::LrsError;
use crate::statements;

/// Durable consumer name.
pub(crate) const DURABLE: &str = "lrs-submit";

/// Stores submitted statements. Their `statement.stored` events reach the bus on the outbox
/// relay's next poll: the inbox commits only after the handler returns.
pub(crate) struct SubmitHandler {
    identity: Identity,
    authority: Value,
}

impl SubmitHandler {
    pub fn new(identity: Identity) -> Self {
        Self {
            authority: platform_authority(&identity),
            identity,
        }
    }
}

impl EventHandler for SubmitHandler {
    async fn handle(&self, tx: &mut Tx, event: &Envelope) -> Result<(), HandlerError> {
        let value: Value = serde_json::from_slice(&event.payload)
            .map_err(|e| HandlerError::Permanent(format!("payload is not JSON: {e}")))?;
        let statement = Statement::parse(value)
            .map_err(|e| HandlerError::Permanent(format!("invalid statement: {e}")))?;
        let batch = vec![(String::new(), statement)];
        match statements::record(tx, &self.identity, batch, &self.authority, "1.0.0").await {
            Ok(r) => {
                if r.stored > 0 {
                    tracing::debug!(statement = %r.ids[0], source = %event.source, "submitted statement stored");
                }
                Ok(())
            }
            Err(e @ (LrsError::Conflict(_) | LrsError::Invalid(_))) => {
                Err(HandlerError::Permanent(e.to_string()))
            }
            Err(e) => Err(HandlerError::Transient(e.to_string())),
        }
    }
}
