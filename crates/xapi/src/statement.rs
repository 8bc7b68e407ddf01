//! A statement that passed [`validate`], with what an LRS indexes about it (actor, verb,
//! object, registration, every agent and activity it mentions), what it sets when storing it,
//! and the form two statements are compared in.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::agent;
use crate::datatypes::{self, comparable_duration};
use crate::validate::{self, Invalid};
use crate::version::XapiVersion;
use crate::vocab::verbs;

pub use crate::datatypes::format_millis;

/// An agent or activity a statement mentions, and where.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mention {
    /// Where: `actor`, `object`, `member` (of the actor or object group), `authority`,
    /// `instructor`, `team`, `context-agent`, `context-group`, `parent`, `grouping`,
    /// `category`, `other`; `sub.`-prefixed inside a SubStatement.
    pub relation: &'static str,
    /// The agent key ([`agent::key`]) or the activity id.
    pub key: String,
}

impl Mention {
    /// Whether the plain filters match it: the statement's own actor or object (or a member
    /// of the group that is either).
    pub fn is_direct(&self) -> bool {
        matches!(self.relation, "actor" | "object" | "member")
    }
}

/// A valid statement, as a JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement(Map<String, Value>);

impl Statement {
    /// Validates a statement under the 2.0 rules.
    pub fn parse(value: Value) -> Result<Statement, Invalid> {
        Self::parse_as(value, XapiVersion::V2)
    }

    /// Validates a statement under the rules of `version` and brings it into the form the LRS
    /// stores: context activities as arrays and, under 2.0, the timestamp in UTC.
    pub fn parse_as(value: Value, version: XapiVersion) -> Result<Statement, Invalid> {
        validate::statement_as(&value, version)?;
        match value {
            Value::Object(map) => {
                let mut s = Statement(map);
                s.normalize(version);
                Ok(s)
            }
            _ => Err(Invalid::new("", "must be a JSON object")),
        }
    }

    fn normalize(&mut self, version: XapiVersion) {
        contexts_as_arrays(&mut self.0);
        if let Some(Value::Object(sub)) = self.0.get_mut("object")
            && sub.get("objectType").and_then(Value::as_str) == Some("SubStatement")
        {
            contexts_as_arrays(sub);
        }
        if version == XapiVersion::V2
            && let Some(Value::String(text)) = self.0.get_mut("timestamp")
            && let Some(t) = datatypes::parse_timestamp(text)
        {
            *text = datatypes::format_utc(t.at, t.fraction_digits);
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

    /// The object's agent key when the object is an Agent or identified Group.
    pub fn object_agent_key(&self) -> Option<String> {
        matches!(object_type(self.object()), "Agent" | "Group")
            .then(|| agent::key(self.object()))
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

    /// The attachment descriptions (the `attachments` property).
    pub fn attachments(&self) -> &[Value] {
        self.0
            .get("attachments")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// The SHA-2 digests of the attachments that have no `fileUrl`, whose content must come
    /// with the statement (in the same multipart request or from an earlier statement).
    pub fn inline_attachment_hashes(&self) -> Vec<String> {
        self.attachments()
            .iter()
            .filter(|a| a.get("fileUrl").is_none())
            .filter_map(|a| a.get("sha2").and_then(Value::as_str))
            .map(str::to_ascii_lowercase)
            .collect()
    }

    /// Every identified agent or group the statement mentions, de-duplicated.
    pub fn agents(&self) -> Vec<Mention> {
        self.agents_under(self.0.get("authority"))
    }

    /// [`Statement::agents`] with `authority` in place of the statement's own (what the
    /// statement will mention once [`Statement::complete`] has set it).
    pub fn agents_under(&self, authority: Option<&Value>) -> Vec<Mention> {
        let mut out = Vec::new();
        collect_agents(&self.0, "", &mut out);
        if let Some(a) = authority {
            push_agent(&mut out, "authority", a);
            for m in members(a) {
                push_agent(&mut out, "authority", m);
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// A statement the LRS stored (and so checked) before, as it was stored: not checked
    /// again.
    pub fn from_stored(map: Map<String, Value>) -> Statement {
        Statement(map)
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

    /// Every activity with a definition in the statement, as `(id, definition)`, in the
    /// order they appear.
    pub fn activity_definitions(&self) -> Vec<(&str, &Map<String, Value>)> {
        let mut out = Vec::new();
        for_each_activity(&self.0, &mut |a| {
            if let (Some(id), Some(Value::Object(d))) =
                (a.get("id").and_then(Value::as_str), a.get("definition"))
            {
                out.push((id, d));
            }
        });
        out
    }

    /// The statement in the form two statements are compared in: canonical JSON (keys sorted,
    /// no spaces) without what an LRS assigns (`authority`, `stored`, `version`), with the
    /// timestamp as an instant in UTC to the millisecond, UUIDs in lower case and durations
    /// to the hundredth of a second.
    pub fn comparable(&self) -> String {
        comparable_form(&self.0, &["authority", "stored", "version"], None)
    }

    /// [`Statement::comparable`] of the statement with `id` given to it when it has none
    /// (what [`Statement::set_id`] would make), without changing it.
    pub fn comparable_with_id(&self, id: Uuid) -> String {
        comparable_form(&self.0, &["authority", "stored", "version"], Some(id))
    }

    /// Whether `payload` (a JWS payload: the statement before it was signed) is this
    /// statement, ignoring what the LRS assigns and the attachments (the signature is one).
    pub fn matches_signed(&self, payload: &Value) -> bool {
        let Some(payload) = payload.as_object() else {
            return false;
        };
        let mut ignore = vec!["authority", "stored", "version", "attachments"];
        if !payload.contains_key("id") {
            ignore.push("id");
        }
        if !payload.contains_key("timestamp") {
            ignore.push("timestamp");
        }
        let mut payload = payload.clone();
        contexts_as_arrays(&mut payload);
        if let Some(Value::Object(sub)) = payload.get_mut("object") {
            contexts_as_arrays(sub);
        }
        comparable_form(&self.0, &ignore, None) == comparable_form(&payload, &ignore, None)
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

    /// The JSON text of the statement as [`Statement::set_id`] (when it has no id) and
    /// [`Statement::complete`] would make it, without changing or copying it.
    pub fn stored_json(
        &self,
        id: Uuid,
        stored: OffsetDateTime,
        authority: &Value,
        version: &str,
    ) -> String {
        let stored = format_millis(stored);
        let id = (!self.0.contains_key("id")).then(|| id.to_string());
        let mut fields: Vec<(&str, Field<'_>)> = Vec::with_capacity(self.0.len() + 4);
        for (k, v) in &self.0 {
            if !matches!(k.as_str(), "stored" | "authority") {
                fields.push((k, Field::Json(v)));
            }
        }
        if let Some(id) = &id {
            fields.push(("id", Field::Text(id)));
        }
        if !self.0.contains_key("timestamp") {
            fields.push(("timestamp", Field::Text(&stored)));
        }
        fields.push(("stored", Field::Text(&stored)));
        fields.push(("authority", Field::Json(authority)));
        if !self.0.contains_key("version") {
            fields.push(("version", Field::Text(version)));
        }
        // The order of serde_json's map: keys sorted.
        fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut out = Vec::with_capacity(2048);
        out.push(b'{');
        for (i, (k, v)) in fields.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(&mut out, k);
            out.push(b':');
            match v {
                Field::Json(v) => write_json(&mut out, v),
                Field::Text(t) => write_str(&mut out, t),
            }
        }
        out.push(b'}');
        String::from_utf8(out).expect("JSON text is UTF-8")
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

fn object_type(v: &Value) -> &str {
    v.get("objectType")
        .and_then(Value::as_str)
        .unwrap_or("Activity")
}

/// A single context activity is the same as a list of one: store the list.
fn contexts_as_arrays(s: &mut Map<String, Value>) {
    let Some(Value::Object(groups)) = s
        .get_mut("context")
        .and_then(|c| c.get_mut("contextActivities"))
    else {
        return;
    };
    for v in groups.values_mut() {
        if v.is_object() {
            *v = Value::Array(vec![v.take()]);
        }
    }
}

fn members(group: &Value) -> impl Iterator<Item = &Value> {
    group
        .get("member")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn relation(prefix: &str, name: &'static str) -> &'static str {
    if prefix.is_empty() {
        return name;
    }
    match name {
        "actor" => "sub.actor",
        "object" => "sub.object",
        "member" => "sub.member",
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
        for m in members(actor) {
            push_agent(out, relation(prefix, "member"), m);
        }
    }
    if let Some(object) = s.get("object") {
        match object_type(object) {
            "Agent" | "Group" => {
                push_agent(out, relation(prefix, "object"), object);
                for m in members(object) {
                    push_agent(out, relation(prefix, "member"), m);
                }
            }
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
            for m in members(a) {
                push_agent(out, relation(prefix, name), m);
            }
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
                for m in members(a) {
                    push_agent(out, relation(prefix, name), m);
                }
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
        for a in one_or_many(groups.get(name)) {
            if let Some(id) = a.get("id").and_then(Value::as_str) {
                out.push(Mention {
                    relation: relation(prefix, name),
                    key: id.to_string(),
                });
            }
        }
    }
}

fn one_or_many(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    }
}

/// Calls `f` on every Activity object of a statement (object, context activities, and the
/// same inside a SubStatement).
pub(crate) fn for_each_activity<'a>(
    s: &'a Map<String, Value>,
    f: &mut dyn FnMut(&'a Map<String, Value>),
) {
    if let Some(Value::Object(object)) = s.get("object") {
        match object.get("objectType").and_then(Value::as_str) {
            None | Some("Activity") => f(object),
            Some("SubStatement") => for_each_activity(object, f),
            _ => {}
        }
    }
    if let Some(Value::Object(groups)) = s.get("context").and_then(|c| c.get("contextActivities")) {
        for v in groups.values() {
            for a in one_or_many(Some(v)) {
                if let Value::Object(a) = a {
                    f(a);
                }
            }
        }
    }
}

/// A top-level property written by [`Statement::stored_json`].
enum Field<'a> {
    Json(&'a Value),
    Text(&'a str),
}

/// Writes `text` as a JSON string, escaped as serde_json escapes it (`"`, `\\` and control
/// characters); most strings need no escape and are copied as they are.
fn write_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        serde_json::to_writer(out, text).expect("writing to a Vec cannot fail");
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// Writes `v` as compact JSON (serde_json's output).
fn write_json(out: &mut Vec<u8>, v: &Value) {
    serde_json::to_writer(out, v).expect("writing to a Vec cannot fail");
}

/// The comparable form of `s` without the `ignore` keys, with `id` added when `s` has none:
/// canonical JSON (keys sorted, no spaces) of the normalised statement, written in one pass
/// from the borrowed map (serde_json's maps keep their keys sorted).
fn comparable_form(s: &Map<String, Value>, ignore: &[&str], id: Option<Uuid>) -> String {
    let mut out = Vec::with_capacity(1536);
    let mut added_id = id
        .filter(|_| !s.contains_key("id"))
        .map(|id| id.to_string());
    out.push(b'{');
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, k: &str| {
        if !first {
            out.push(b',');
        }
        first = false;
        write_str(out, k);
        out.push(b':');
    };
    for (k, v) in s {
        if let Some(id) = added_id.as_deref()
            && k.as_str() > "id"
        {
            key(&mut out, "id");
            write_str(&mut out, id);
            added_id = None;
        }
        if ignore.contains(&k.as_str()) {
            continue;
        }
        key(&mut out, k);
        if k == "timestamp"
            && let Value::String(text) = v
            && let Some(t) = datatypes::parse_timestamp(text)
        {
            write_str(&mut out, &format_millis(t.at));
        } else {
            comparable_value(&mut out, v, k, true);
        }
    }
    if let Some(id) = added_id {
        key(&mut out, "id");
        write_str(&mut out, &id);
    }
    out.push(b'}');
    String::from_utf8(out).expect("JSON text is UTF-8")
}

/// Writes `v`, the value of `key`, canonically; with `normalize`, lower-cases what the
/// specification compares without case (UUIDs, SHA sums) and cuts durations to hundredths of
/// a second. Nothing inside `extensions` is normalised.
fn comparable_value(out: &mut Vec<u8>, v: &Value, key: &str, normalize: bool) {
    match v {
        Value::Object(map) => {
            let normalize = normalize && key != "extensions";
            out.push(b'{');
            for (i, (k, child)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                comparable_value(out, child, k, normalize);
            }
            out.push(b'}');
        }
        Value::Array(list) => {
            let normalize = normalize && key != "extensions";
            out.push(b'[');
            for (i, child) in list.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                comparable_value(out, child, key, normalize);
            }
            out.push(b']');
        }
        Value::String(text) if normalize => match key {
            "id" | "registration" if datatypes::parse_uuid(text).is_some() => {
                write_lower(out, text);
            }
            "mbox_sha1sum" | "sha2" => write_lower(out, text),
            "duration" => write_str(out, &comparable_duration(text)),
            _ => write_str(out, text),
        },
        Value::Number(n) => match n.as_f64() {
            // 1 and 1.0 are the same number.
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                serde_json::to_writer(out, &(f as i64)).expect("writing to a Vec cannot fail")
            }
            _ => write_json(out, v),
        },
        other => write_json(out, other),
    }
}

fn write_lower(out: &mut Vec<u8>, text: &str) {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        write_str(out, &text.to_ascii_lowercase());
    } else {
        write_str(out, text);
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
        assert!(s.as_value()["context"]["contextActivities"]["other"].is_array());
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
    fn group_members_are_direct_mentions() {
        let s = statement(json!({
            "actor": {"objectType": "Group", "member": [{"mbox": "mailto:ada@example.com"}]},
            "verb": {"id": "http://example.com/v"},
            "object": {"id": "http://example.com/a"}
        }));
        assert!(
            s.agents()
                .iter()
                .any(|m| m.key == "mbox:mailto:ada@example.com" && m.is_direct())
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
            "result": {"duration": "PT1.2345S", "score": {"raw": 1.0}},
            "timestamp": "2024-05-01T14:00:00.1234+02:00"
        }));
        let mut b = statement(json!({
            "object": {"id": "http://example.com/a"},
            "verb": {"id": "http://example.com/v"},
            "actor": {"name": "Ada", "mbox": "mailto:ada@example.com"},
            "result": {"duration": "PT1.23S", "score": {"raw": 1}},
            "id": "6690E6C9-3EF0-4ED3-8B37-7F3964730BEE",
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
    fn signed_payloads_match_without_attachments() {
        let body = json!({
            "actor": {"mbox": "mailto:ada@example.com"},
            "verb": {"id": "http://example.com/v"},
            "object": {"id": "http://example.com/a"},
        });
        let mut with = body.clone();
        with["attachments"] = json!([{"usageType": validate::SIGNATURE_USAGE_TYPE,
            "display": {"en-US": "sig"}, "contentType": "application/octet-stream",
            "length": 3, "sha2": "a".repeat(64)}]);
        let mut s = statement(with);
        s.set_id(Uuid::new_v4());
        assert!(s.matches_signed(&body));
        let mut other = body.clone();
        other["verb"]["id"] = json!("http://example.com/w");
        assert!(!s.matches_signed(&other));
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
    }

    /// The comparable form as it was first written (clone, normalise, then `Display` of each
    /// key and scalar): the one-pass writer must give the same text.
    fn reference_form(s: &Map<String, Value>, ignore: &[&str]) -> String {
        fn normalize(v: &mut Value, key: &str) {
            match v {
                Value::Object(map) => {
                    if key == "extensions" {
                        return;
                    }
                    for (k, child) in map.iter_mut() {
                        normalize(child, k);
                    }
                }
                Value::Array(list) => {
                    for child in list {
                        normalize(child, key);
                    }
                }
                Value::String(text) => match key {
                    "id" | "registration" if datatypes::parse_uuid(text).is_some() => {
                        *text = text.to_ascii_lowercase();
                    }
                    "mbox_sha1sum" | "sha2" => *text = text.to_ascii_lowercase(),
                    "duration" => *text = comparable_duration(text),
                    _ => {}
                },
                _ => {}
            }
        }
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
                Value::Number(n) => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                        out.push_str(&(f as i64).to_string())
                    }
                    _ => out.push_str(&n.to_string()),
                },
                scalar => out.push_str(&scalar.to_string()),
            }
        }
        let mut map = s.clone();
        for key in ignore {
            map.remove(*key);
        }
        if let Some(Value::String(text)) = map.get("timestamp")
            && let Some(t) = datatypes::parse_timestamp(text)
        {
            map.insert("timestamp".into(), Value::String(format_millis(t.at)));
        }
        let mut value = Value::Object(map);
        normalize(&mut value, "");
        let mut out = String::new();
        canonical(&value, &mut out);
        out
    }

    /// Statements of the benchmark, and variants with what normalisation changes.
    fn samples() -> Vec<Statement> {
        let mut out = Vec::new();
        for line in include_str!("../benches/statements.jsonl").lines() {
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(line).unwrap();
            out.push(statement(v.clone()));
            let mut w = v.clone();
            let o = w.as_object_mut().unwrap();
            if let Some(Value::String(id)) = o.get_mut("id") {
                *id = id.to_ascii_uppercase();
            } else {
                o.insert("id".into(), json!("6690E6C9-3EF0-4ED3-8B37-7F3964730BEE"));
            }
            o.insert("result".into(), json!({
                "duration": "PT1H2M3.4567S", "success": true,
                "score": {"raw": 1.0, "min": -0.0, "max": 1e14, "scaled": 0.5},
                "extensions": {"http://example.com/x": {"id": "6690E6C9-3EF0-4ED3-8B37-7F3964730BEE",
                    "big": 12345678901234567890u64, "f": 1e20, "neg": -3, "s": "a\"b\\c\u{1}\u{7f}é"}}
            }));
            o.insert(
                "attachments".into(),
                json!([{"usageType": "http://example.com/u",
                "display": {"en-US": "x"}, "contentType": "text/plain", "length": 3,
                "sha2": "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"}]),
            );
            o.remove("timestamp");
            out.push(statement(w));
        }
        out
    }

    #[test]
    fn the_one_pass_comparable_form_is_the_reference_form() {
        let samples = samples();
        assert!(samples.len() > 100);
        for s in &samples {
            let ignore = ["authority", "stored", "version"];
            assert_eq!(s.comparable(), reference_form(&s.0, &ignore));
            for ignore in [
                &["authority", "stored", "version", "attachments", "id"][..],
                &[],
            ] {
                assert_eq!(
                    comparable_form(&s.0, ignore, None),
                    reference_form(&s.0, ignore)
                );
            }
            let id = Uuid::now_v7();
            let mut with_id = s.clone();
            if with_id.id().is_none() {
                with_id.set_id(id);
            }
            assert_eq!(s.comparable_with_id(id), with_id.comparable());
        }
    }

    #[test]
    fn stored_json_is_what_complete_makes() {
        let authority = json!({"objectType": "Agent", "name": "LRS \"x\"",
            "account": {"homePage": "http://lyceum.test", "name": "client"}});
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_714_564_800_120_000_000).unwrap();
        for s in samples() {
            let id = Uuid::now_v7();
            let mut completed = s.clone();
            if completed.id().is_none() {
                completed.set_id(id);
            }
            completed.complete(at, authority.clone(), "2.0.0");
            assert_eq!(
                s.stored_json(id, at, &authority, "2.0.0"),
                completed.to_json()
            );
        }
    }

    #[test]
    fn timestamps_become_utc_under_2_0() {
        let v = json!({
            "actor": {"mbox": "mailto:ada@example.com"},
            "verb": {"id": "http://example.com/v"},
            "object": {"id": "http://example.com/a"},
            "timestamp": "2023-05-04T12:00:00-05:00"
        });
        let s = Statement::parse_as(v.clone(), XapiVersion::V2).unwrap();
        assert_eq!(s.as_value()["timestamp"], "2023-05-04T17:00:00.000Z");
        let s = Statement::parse_as(v, XapiVersion::V1).unwrap();
        assert_eq!(s.as_value()["timestamp"], "2023-05-04T12:00:00-05:00");
    }
}
