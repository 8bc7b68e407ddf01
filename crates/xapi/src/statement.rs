//! A statement that passed [`validate::statement`], with what an LRS indexes about it (actor,
//! verb, object, registration, every agent and activity it mentions) and the form two
//! statements are compared in.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::agent;
use crate::validate::{self, Invalid};
use crate::vocab::verbs;

/// An agent or activity a statement mentions, and where.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mention {
    /// Where: `actor`, `object`, `authority`, `instructor`, `team`, `context-agent`,
    /// `context-group`, `parent`, `grouping`, `category`, `other`; `sub.`-prefixed inside a
    /// SubStatement.
    pub relation: &'static str,
    /// The agent key ([`agent::key`]) or the activity id.
    pub key: String,
}

impl Mention {
    /// Whether the plain filters match it: the statement's own actor or object.
    pub fn is_direct(&self) -> bool {
        matches!(self.relation, "actor" | "object")
    }
}

/// A valid statement, as a JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement(Map<String, Value>);

impl Statement {
    /// Validates a statement.
    pub fn parse(value: Value) -> Result<Statement, Invalid> {
        validate::statement(&value)?;
        match value {
            Value::Object(map) => Ok(Statement(map)),
            _ => Err(Invalid::new("", "must be a JSON object")),
        }
    }

    /// The statement id, when it has one.
    pub fn id(&self) -> Option<Uuid> {
        self.0.get("id")?.as_str()?.parse().ok()
    }

    /// Gives the statement an id.
    pub fn set_id(&mut self, id: Uuid) {
        self.0.insert("id".into(), Value::String(id.to_string()));
    }

    /// The actor.
    pub fn actor(&self) -> &Value {
        &self.0["actor"]
    }

    /// The verb IRI.
    pub fn verb_id(&self) -> &str {
        self.0["verb"]["id"].as_str().unwrap_or_default()
    }

    /// The object.
    pub fn object(&self) -> &Value {
        &self.0["object"]
    }

    /// The object's id when the object is an Activity.
    pub fn object_activity_id(&self) -> Option<&str> {
        object_type(self.object())
            .eq("Activity")
            .then(|| self.object()["id"].as_str())
            .flatten()
    }

    /// The target when the object is a StatementRef.
    pub fn statement_ref(&self) -> Option<Uuid> {
        if object_type(self.object()) != "StatementRef" {
            return None;
        }
        self.object()["id"].as_str()?.parse().ok()
    }

    /// The statement this one voids, when it is a voiding statement.
    pub fn voided_target(&self) -> Option<Uuid> {
        (self.verb_id() == verbs::VOIDED)
            .then(|| self.statement_ref())
            .flatten()
    }

    /// The context registration.
    pub fn registration(&self) -> Option<Uuid> {
        self.0
            .get("context")?
            .get("registration")?
            .as_str()?
            .parse()
            .ok()
    }

    /// When the experience happened, as the statement says.
    pub fn timestamp(&self) -> Option<OffsetDateTime> {
        validate::parse_timestamp(self.0.get("timestamp")?.as_str()?)
    }

    /// The `version` property.
    pub fn version(&self) -> Option<&str> {
        self.0.get("version")?.as_str()
    }

    /// The `authority` property.
    pub fn authority(&self) -> Option<&Value> {
        self.0.get("authority")
    }

    /// Every identified agent or group the statement mentions, de-duplicated.
    pub fn agents(&self) -> Vec<Mention> {
        let mut out = Vec::new();
        collect_agents(&self.0, "", &mut out);
        if let Some(a) = self.0.get("authority") {
            push_agent(&mut out, "authority", a);
        }
        out.sort();
        out.dedup();
        out
    }

    /// Every activity the statement mentions (object, context activities, inside a
    /// SubStatement), de-duplicated.
    pub fn activities(&self) -> Vec<Mention> {
        let mut out = Vec::new();
        collect_activities(&self.0, "", &mut out);
        out.sort();
        out.dedup();
        out
    }

    /// The statement in the form two statements are compared in: canonical JSON (keys sorted,
    /// no spaces) without the properties an LRS assigns (`authority`, `stored`, `version`) and
    /// with the timestamp in UTC to the millisecond.
    pub fn comparable(&self) -> String {
        let mut map = self.0.clone();
        for key in ["authority", "stored", "version"] {
            map.remove(key);
        }
        if let Some(t) = self.timestamp() {
            map.insert("timestamp".into(), Value::String(format_millis(t)));
        }
        let mut out = String::new();
        canonical(&Value::Object(map), &mut out);
        out
    }

    /// Sets what the LRS assigns when storing: `stored`, `authority`, `version` (unless the
    /// client sent one) and `timestamp` (= stored, unless the client sent one).
    pub fn complete(&mut self, stored: OffsetDateTime, authority: Value, version: &str) {
        let stored = Value::String(format_millis(stored));
        if !self.0.contains_key("timestamp") {
            self.0.insert("timestamp".into(), stored.clone());
        }
        self.0.insert("stored".into(), stored);
        self.0.insert("authority".into(), authority);
        if !self.0.contains_key("version") {
            self.0
                .insert("version".into(), Value::String(version.into()));
        }
    }

    /// The statement as JSON.
    pub fn as_value(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The statement as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("JSON values serialize")
    }
}

/// An instant as xAPI writes it: UTC, milliseconds, `Z`.
pub fn format_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t
        .replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
        .expect("a truncated nanosecond is in range");
    let text = t.format(&Rfc3339).expect("RFC 3339 formatting of UTC");
    // Always three fraction digits, so the text sorts like the instant.
    match text.find('.') {
        Some(dot) => {
            let frac = &text[dot + 1..text.len() - 1];
            format!("{}.{:0<3}Z", &text[..dot], frac)
        }
        None => format!("{}.000Z", &text[..text.len() - 1]),
    }
}

fn object_type(v: &Value) -> &str {
    v.get("objectType")
        .and_then(Value::as_str)
        .unwrap_or("Activity")
}

fn relation(prefix: &str, name: &'static str) -> &'static str {
    if prefix.is_empty() {
        return name;
    }
    match name {
        "actor" => "sub.actor",
        "object" => "sub.object",
        "instructor" => "sub.instructor",
        "team" => "sub.team",
        "context-agent" => "sub.context-agent",
        "context-group" => "sub.context-group",
        "parent" => "sub.parent",
        "grouping" => "sub.grouping",
        "category" => "sub.category",
        _ => "sub.other",
    }
}

fn push_agent(out: &mut Vec<Mention>, relation: &'static str, v: &Value) {
    if let Some(key) = agent::key(v) {
        out.push(Mention { relation, key });
    }
}

fn collect_agents(s: &Map<String, Value>, prefix: &str, out: &mut Vec<Mention>) {
    if let Some(actor) = s.get("actor") {
        push_agent(out, relation(prefix, "actor"), actor);
    }
    if let Some(object) = s.get("object") {
        match object_type(object) {
            "Agent" | "Group" => push_agent(out, relation(prefix, "object"), object),
            "SubStatement" if prefix.is_empty() => {
                if let Some(sub) = object.as_object() {
                    collect_agents(sub, "sub", out);
                }
            }
            _ => {}
        }
    }
    let Some(context) = s.get("context") else {
        return;
    };
    for (key, name) in [("instructor", "instructor"), ("team", "team")] {
        if let Some(a) = context.get(key) {
            push_agent(out, relation(prefix, name), a);
        }
    }
    for (list, inner, name) in [
        ("contextAgents", "agent", "context-agent"),
        ("contextGroups", "group", "context-group"),
    ] {
        for entry in context
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(a) = entry.get(inner) {
                push_agent(out, relation(prefix, name), a);
            }
        }
    }
}

fn collect_activities(s: &Map<String, Value>, prefix: &str, out: &mut Vec<Mention>) {
    if let Some(object) = s.get("object") {
        match object_type(object) {
            "Activity" => {
                if let Some(id) = object.get("id").and_then(Value::as_str) {
                    out.push(Mention {
                        relation: relation(prefix, "object"),
                        key: id.to_string(),
                    });
                }
            }
            "SubStatement" if prefix.is_empty() => {
                if let Some(sub) = object.as_object() {
                    collect_activities(sub, "sub", out);
                }
            }
            _ => {}
        }
    }
    let Some(groups) = s
        .get("context")
        .and_then(|c| c.get("contextActivities"))
        .and_then(Value::as_object)
    else {
        return;
    };
    for name in ["parent", "grouping", "category", "other"] {
        let Some(v) = groups.get(name) else { continue };
        let list = match v {
            Value::Array(list) => list.iter().collect::<Vec<_>>(),
            one => vec![one],
        };
        for a in list {
            if let Some(id) = a.get("id").and_then(Value::as_str) {
                out.push(Mention {
                    relation: relation(prefix, name),
                    key: id.to_string(),
                });
            }
        }
    }
}

/// Writes `v` with object keys sorted and no insignificant whitespace.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(list) => {
            out.push('[');
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statement(v: Value) -> Statement {
        Statement::parse(v).expect("valid")
    }

    #[test]
    fn indexes_actor_verb_object_and_mentions() {
        let s = statement(json!({
            "actor": {"mbox": "mailto:ada@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": "http://example.com/a"},
            "context": {
                "registration": "0190abcd-0000-7000-8000-000000000001",
                "instructor": {"openid": "http://id.example/t"},
                "contextActivities": {"parent": [{"id": "http://example.com/p"}], "other": {"id": "http://example.com/o"}}
            }
        }));
        assert_eq!(s.id(), None);
        assert_eq!(s.verb_id(), verbs::COMPLETED);
        assert_eq!(s.object_activity_id(), Some("http://example.com/a"));
        assert_eq!(
            s.registration().unwrap().to_string(),
            "0190abcd-0000-7000-8000-000000000001"
        );
        let agents: Vec<_> = s
            .agents()
            .into_iter()
            .map(|m| (m.relation, m.key))
            .collect();
        assert!(agents.contains(&("actor", "mbox:mailto:ada@example.com".into())));
        assert!(agents.contains(&("instructor", "openid:http://id.example/t".into())));
        let activities: Vec<_> = s
            .activities()
            .into_iter()
            .map(|m| (m.relation, m.key))
            .collect();
        assert_eq!(
            activities,
            vec![
                ("object", "http://example.com/a".to_string()),
                ("other", "http://example.com/o".to_string()),
                ("parent", "http://example.com/p".to_string()),
            ]
        );
    }

    #[test]
    fn the_platform_statements_are_valid() {
        let id = crate::platform::Identity::new("http://lyceum.test");
        let course = uuid::Uuid::now_v7();
        let s = id.statement(
            id.agent(uuid::Uuid::now_v7(), "Ada"),
            verbs::COMPLETED,
            &id.item(course, uuid::Uuid::now_v7(), "video", "Intro"),
            Some(uuid::Uuid::now_v7()),
            Some(&id.course(course, "SQL")),
            OffsetDateTime::now_utc(),
        );
        let s = statement(s);
        assert!(s.activities().iter().any(|m| m.relation == "parent"));
    }

    #[test]
    fn sub_statements_are_mentioned_indirectly() {
        let s = statement(json!({
            "actor": {"mbox": "mailto:ada@example.com"},
            "verb": {"id": "http://example.com/planned"},
            "object": {"objectType": "SubStatement",
                "actor": {"mbox": "mailto:bob@example.com"},
                "verb": {"id": "http://example.com/attend"},
                "object": {"id": "http://example.com/meeting"}}
        }));
        assert_eq!(s.object_activity_id(), None);
        assert!(
            s.agents()
                .iter()
                .any(|m| m.relation == "sub.actor" && !m.is_direct())
        );
        assert!(s.activities().iter().any(|m| m.relation == "sub.object"));
    }

    #[test]
    fn comparison_ignores_what_the_lrs_assigns() {
        let a = statement(json!({
            "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
            "actor": {"mbox": "mailto:ada@example.com", "name": "Ada"},
            "verb": {"id": "http://example.com/v"},
            "object": {"id": "http://example.com/a"},
            "timestamp": "2024-05-01T14:00:00.1234+02:00"
        }));
        let mut b = statement(json!({
            "object": {"id": "http://example.com/a"},
            "verb": {"id": "http://example.com/v"},
            "actor": {"name": "Ada", "mbox": "mailto:ada@example.com"},
            "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
            "timestamp": "2024-05-01T12:00:00.123Z"
        }));
        b.complete(
            OffsetDateTime::now_utc(),
            json!({"mbox": "mailto:lrs@example.com"}),
            "1.0.0",
        );
        assert_eq!(a.comparable(), b.comparable());
        let mut c = a.clone();
        c.0.insert("result".into(), json!({"success": true}));
        assert_ne!(a.comparable(), c.comparable());
    }

    #[test]
    fn complete_keeps_client_timestamp_and_version() {
        let mut s = statement(json!({
            "actor": {"mbox": "mailto:ada@example.com"},
            "verb": {"id": "http://example.com/v"},
            "object": {"id": "http://example.com/a"},
            "version": "1.0.3"
        }));
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_714_564_800_120_000_000).unwrap();
        s.complete(at, json!({"mbox": "mailto:lrs@example.com"}), "2.0.0");
        assert_eq!(s.as_value()["stored"], "2024-05-01T12:00:00.120Z");
        assert_eq!(s.as_value()["timestamp"], "2024-05-01T12:00:00.120Z");
        assert_eq!(s.version(), Some("1.0.3"));
        assert_eq!(
            format_millis(at - time::Duration::nanoseconds(120_000_000)),
            "2024-05-01T12:00:00.000Z"
        );
    }
}
