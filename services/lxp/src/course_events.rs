//! Mirrors LMS courses into the catalogue from `lyceum.lms.course.*` events.

use lyceum_bus::{EventHandler, HandlerError, subjects};
use lyceum_proto::events::v1::{CoursePublished, Envelope};
use lyceum_proto::timestamp::to_time;
use lyceum_store::{Tx, is_unique_violation};
use lyceum_xapi::platform::Identity;
use prost::Message;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::catalog::{self, KIND_COURSE, NewItem, SOURCE_LMS};

/// Applies course events: a published course becomes (or updates) the catalogue item with the
/// course's id.
pub(crate) struct CourseEvents {
    identity: Identity,
}

impl CourseEvents {
    pub fn new(identity: Identity) -> Self {
        Self { identity }
    }

    fn item(&self, e: CoursePublished, envelope: &Envelope) -> Result<NewItem, HandlerError> {
        let id: Uuid = e.course_id.parse().map_err(|_| {
            HandlerError::Permanent(format!("course id {:?} is not a UUID", e.course_id))
        })?;
        let url = if e.activity_id.trim().is_empty() {
            self.identity.course_activity(id)
        } else {
            e.activity_id.trim().to_string()
        };
        let published_at = e
            .published_at
            .as_ref()
            .or(envelope.occurred_at.as_ref())
            .and_then(to_time)
            .unwrap_or_else(OffsetDateTime::now_utc);
        Ok(NewItem {
            id,
            source: SOURCE_LMS,
            kind: KIND_COURSE.to_string(),
            title: e.title,
            description: e.description,
            url,
            skills: normalize_skills(&e.skills),
            published_at,
            added_by: None,
        })
    }
}

/// Lower-cased, trimmed, de-duplicated tags; the LMS validated them, anything odd is dropped
/// rather than failing the event.
fn normalize_skills(skills: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(skills.len());
    for s in skills {
        let tag = s.trim().to_lowercase();
        if !tag.is_empty() && tag.chars().count() <= 64 && !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}

impl EventHandler for CourseEvents {
    async fn handle(&self, tx: &mut Tx, event: &Envelope) -> Result<(), HandlerError> {
        if event.r#type != subjects::COURSE_PUBLISHED {
            return Ok(());
        }
        let published = CoursePublished::decode(event.payload.as_slice())
            .map_err(|e| HandlerError::Permanent(format!("CoursePublished: {e}")))?;
        let item = self.item(published, event)?;
        match catalog::upsert(tx, &item).await {
            Ok(true) => tracing::info!(course = %item.id, "course in catalogue"),
            Ok(false) => tracing::debug!(course = %item.id, "older course version ignored"),
            Err(e) if is_unique_violation(&e) => {
                return Err(HandlerError::Permanent(format!(
                    "course {} has the url {} of another catalogue item",
                    item.id, item.url
                )));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}
