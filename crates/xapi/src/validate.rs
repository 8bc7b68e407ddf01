//! Checks of statements as an LRS receives them (xAPI 1.0.3 and 2.0 data model). Every failure
//! names the field at fault, e.g. `actor.mbox: must start with "mailto:"`.
//!
//! Unknown properties and `null` values are refused (outside `extensions`), as the
//! specification asks of an LRS.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::vocab::verbs;

/// A statement (or a part of one) that breaks the data model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field at fault: `actor.mbox`, `context.contextActivities.parent[0].id`.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl Invalid {
    /// `field` breaks the rule `problem`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The same failure inside `prefix` (e.g. `statements[2]`).
    pub fn within(self, prefix: &str) -> Self {
        let field = if self.field.is_empty() {
            prefix.to_string()
        } else if self.field.starts_with('[') {
            format!("{prefix}{}", self.field)
        } else {
            format!("{prefix}.{}", self.field)
        };
        Self { field, ..self }
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.field, self.problem)
        }
    }
}

impl std::error::Error for Invalid {}

type Result<T = ()> = std::result::Result<T, Invalid>;

/// The inverse functional identifiers of agents and groups, in the order keys are taken.
pub const IFIS: [&str; 4] = ["mbox", "mbox_sha1sum", "openid", "account"];

const STATEMENT_KEYS: &[&str] = &[
    "id",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "stored",
    "authority",
    "version",
    "attachments",
];
const SUB_STATEMENT_KEYS: &[&str] = &[
    "objectType",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "attachments",
];
const AGENT_KEYS: &[&str] = &[
    "objectType",
    "name",
    "mbox",
    "mbox_sha1sum",
    "openid",
    "account",
];
const GROUP_KEYS: &[&str] = &[
    "objectType",
    "name",
    "member",
    "mbox",
    "mbox_sha1sum",
    "openid",
    "account",
];
const DEFINITION_KEYS: &[&str] = &[
    "name",
    "description",
    "type",
    "moreInfo",
    "extensions",
    "interactionType",
    "correctResponsesPattern",
    "choices",
    "scale",
    "source",
    "target",
    "steps",
];
const INTERACTION_TYPES: &[&str] = &[
    "true-false",
    "choice",
    "fill-in",
    "long-fill-in",
    "matching",
    "performance",
    "sequencing",
    "likert",
    "numeric",
    "other",
];
const CONTEXT_KEYS: &[&str] = &[
    "registration",
    "instructor",
    "team",
    "contextActivities",
    "contextAgents",
    "contextGroups",
    "revision",
    "platform",
    "language",
    "statement",
    "extensions",
];
const CONTEXT_ACTIVITY_KEYS: &[&str] = &["parent", "grouping", "category", "other"];

/// Checks a whole statement.
pub fn statement(value: &Value) -> Result {
    statement_at("", value, false)
}

/// Checks an Agent or Group (an `actor`, an `authority`, the `agent` query parameter).
pub fn agent_or_group(path: &str, value: &Value) -> Result {
    let map = object(path, value)?;
    match map.get("objectType") {
        None => agent(path, map),
        Some(Value::String(t)) if t == "Agent" => agent(path, map),
        Some(Value::String(t)) if t == "Group" => group(path, map),
        Some(_) => Err(Invalid::new(
            child(path, "objectType"),
            "must be \"Agent\" or \"Group\"",
        )),
    }
}

/// Checks an `X-Experience-API-Version` header value: 1.0, 1.0.x, 2.0 or 2.0.x.
pub fn version_header(value: &str) -> bool {
    version_parts(value).is_some()
}

/// Whether `value` is an absolute IRI: a scheme, `:`, something after it, no whitespace.
pub fn is_absolute_iri(value: &str) -> bool {
    let Some((scheme, rest)) = value.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Parses an xAPI timestamp (RFC 3339 with an offset; `-00:00` is refused).
pub fn parse_timestamp(value: &str) -> Option<OffsetDateTime> {
    if value.ends_with("-00:00") {
        return None;
    }
    OffsetDateTime::parse(value, &Rfc3339).ok()
}

fn version_parts(value: &str) -> Option<(u32, u32, Option<u32>)> {
    let mut parts = value.split('.');
    let major = number(parts.next()?)?;
    let minor = number(parts.next()?)?;
    let patch = match parts.next() {
        Some(p) => Some(number(p)?),
        None => None,
    };
    if parts.next().is_some() || !matches!((major, minor), (1, 0) | (2, 0)) {
        return None;
    }
    Some((major, minor, patch))
}

fn number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn statement_at(path: &str, value: &Value, sub: bool) -> Result {
    let map = object(path, value)?;
    only_keys(
        path,
        map,
        if sub {
            SUB_STATEMENT_KEYS
        } else {
            STATEMENT_KEYS
        },
    )?;
    if !sub && let Some(id) = map.get("id") {
        uuid(&child(path, "id"), id)?;
    }
    agent_or_group(&child(path, "actor"), required(path, map, "actor")?)?;
    let verb_id = verb(&child(path, "verb"), required(path, map, "verb")?)?;
    let object_path = child(path, "object");
    let object_value = required(path, map, "object")?;
    let object_type = statement_object(&object_path, object_value, sub)?;
    if verb_id == verbs::VOIDED && object_type != "StatementRef" {
        return Err(Invalid::new(
            object_path,
            "the object of a voiding statement must be a StatementRef",
        ));
    }
    if let Some(r) = map.get("result") {
        result(&child(path, "result"), r)?;
    }
    if let Some(c) = map.get("context") {
        context(&child(path, "context"), c, object_type == "Activity")?;
    }
    if let Some(t) = map.get("timestamp") {
        timestamp(&child(path, "timestamp"), t)?;
    }
    if let Some(t) = map.get("stored") {
        timestamp(&child(path, "stored"), t)?;
    }
    if let Some(a) = map.get("authority") {
        agent_or_group(&child(path, "authority"), a)?;
    }
    if let Some(v) = map.get("version") {
        let field = child(path, "version");
        let text = string(&field, v)?;
        if !matches!(version_parts(text), Some((_, _, Some(_)))) {
            return Err(Invalid::new(field, "must be 1.0.x or 2.0.x"));
        }
    }
    if let Some(a) = map.get("attachments") {
        attachments(&child(path, "attachments"), a)?;
    }
    Ok(())
}

/// Checks the object of a statement; returns its objectType.
fn statement_object(path: &str, value: &Value, in_sub: bool) -> Result<&'static str> {
    let map = object(path, value)?;
    let kind = match map.get("objectType") {
        None => "Activity",
        Some(Value::String(t)) => match t.as_str() {
            "Activity" => "Activity",
            "Agent" => "Agent",
            "Group" => "Group",
            "StatementRef" => "StatementRef",
            "SubStatement" => "SubStatement",
            _ => {
                return Err(Invalid::new(
                    child(path, "objectType"),
                    "must be Activity, Agent, Group, StatementRef or SubStatement",
                ));
            }
        },
        Some(_) => return Err(Invalid::new(child(path, "objectType"), "must be a string")),
    };
    match kind {
        "Activity" => activity(path, value)?,
        "Agent" | "Group" => agent_or_group(path, value)?,
        "StatementRef" => statement_ref(path, value)?,
        _ if in_sub => {
            return Err(Invalid::new(
                child(path, "objectType"),
                "a SubStatement cannot contain a SubStatement",
            ));
        }
        _ => statement_at(path, value, true)?,
    }
    Ok(kind)
}

fn agent(path: &str, map: &Map<String, Value>) -> Result {
    only_keys(path, map, AGENT_KEYS)?;
    if let Some(n) = map.get("name") {
        string(&child(path, "name"), n)?;
    }
    match identifiers(path, map)? {
        1 => Ok(()),
        0 => Err(Invalid::new(
            path,
            "an Agent must be identified by exactly one of mbox, mbox_sha1sum, openid, account",
        )),
        _ => Err(Invalid::new(
            path,
            "an Agent must have only one of mbox, mbox_sha1sum, openid, account",
        )),
    }
}

fn group(path: &str, map: &Map<String, Value>) -> Result {
    only_keys(path, map, GROUP_KEYS)?;
    if let Some(n) = map.get("name") {
        string(&child(path, "name"), n)?;
    }
    let ids = identifiers(path, map)?;
    if ids > 1 {
        return Err(Invalid::new(
            path,
            "a Group must have at most one of mbox, mbox_sha1sum, openid, account",
        ));
    }
    match map.get("member") {
        Some(members) => {
            let field = child(path, "member");
            let list = array(&field, members)?;
            for (i, m) in list.iter().enumerate() {
                let p = item(&field, i);
                let member = object(&p, m)?;
                match member.get("objectType") {
                    None => {}
                    Some(Value::String(t)) if t == "Agent" => {}
                    Some(_) => {
                        return Err(Invalid::new(
                            child(&p, "objectType"),
                            "members of a Group must be Agents",
                        ));
                    }
                }
                agent(&p, member)?;
            }
            if ids == 0 && list.is_empty() {
                return Err(Invalid::new(
                    field,
                    "an anonymous Group must have at least one member",
                ));
            }
        }
        None if ids == 0 => {
            return Err(Invalid::new(
                path,
                "a Group needs an identifier (mbox, mbox_sha1sum, openid, account) or members",
            ));
        }
        None => {}
    }
    Ok(())
}

/// Checks the identifiers present; returns how many there are.
fn identifiers(path: &str, map: &Map<String, Value>) -> Result<usize> {
    let mut count = 0;
    for ifi in IFIS {
        let Some(value) = map.get(ifi) else { continue };
        count += 1;
        let field = child(path, ifi);
        match ifi {
            "mbox" => {
                let v = string(&field, value)?;
                let Some(address) = v.strip_prefix("mailto:") else {
                    return Err(Invalid::new(field, "must start with \"mailto:\""));
                };
                let ok = matches!(address.split_once('@'),
                    Some((local, domain)) if !local.is_empty() && !domain.is_empty())
                    && !address.chars().any(char::is_whitespace);
                if !ok {
                    return Err(Invalid::new(field, "must be mailto: and an e-mail address"));
                }
            }
            "mbox_sha1sum" => {
                let v = string(&field, value)?;
                if v.len() != 40 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Invalid::new(
                        field,
                        "must be the hex SHA-1 of a mailto: IRI (40 hex digits)",
                    ));
                }
            }
            "openid" => {
                iri(&field, value)?;
            }
            _ => {
                let account = object(&field, value)?;
                only_keys(&field, account, &["homePage", "name"])?;
                iri(
                    &child(&field, "homePage"),
                    required(&field, account, "homePage")?,
                )?;
                let name_field = child(&field, "name");
                if string(&name_field, required(&field, account, "name")?)?.is_empty() {
                    return Err(Invalid::new(name_field, "must not be empty"));
                }
            }
        }
    }
    Ok(count)
}

fn verb<'a>(path: &str, value: &'a Value) -> Result<&'a str> {
    let map = object(path, value)?;
    only_keys(path, map, &["id", "display"])?;
    let id = iri(&child(path, "id"), required(path, map, "id")?)?;
    if let Some(d) = map.get("display") {
        language_map(&child(path, "display"), d)?;
    }
    Ok(id)
}

fn activity(path: &str, value: &Value) -> Result {
    let map = object(path, value)?;
    only_keys(path, map, &["objectType", "id", "definition"])?;
    if let Some(t) = map.get("objectType")
        && t != "Activity"
    {
        return Err(Invalid::new(
            child(path, "objectType"),
            "must be \"Activity\"",
        ));
    }
    iri(&child(path, "id"), required(path, map, "id")?)?;
    if let Some(d) = map.get("definition") {
        definition(&child(path, "definition"), d)?;
    }
    Ok(())
}

fn definition(path: &str, value: &Value) -> Result {
    let map = object(path, value)?;
    only_keys(path, map, DEFINITION_KEYS)?;
    for key in ["name", "description"] {
        if let Some(v) = map.get(key) {
            language_map(&child(path, key), v)?;
        }
    }
    for key in ["type", "moreInfo"] {
        if let Some(v) = map.get(key) {
            iri(&child(path, key), v)?;
        }
    }
    if let Some(e) = map.get("extensions") {
        extensions(&child(path, "extensions"), e)?;
    }
    if let Some(t) = map.get("interactionType") {
        let field = child(path, "interactionType");
        if !INTERACTION_TYPES.contains(&string(&field, t)?) {
            return Err(Invalid::new(
                field,
                format!("must be one of {}", INTERACTION_TYPES.join(", ")),
            ));
        }
    }
    if let Some(p) = map.get("correctResponsesPattern") {
        let field = child(path, "correctResponsesPattern");
        for (i, r) in array(&field, p)?.iter().enumerate() {
            string(&item(&field, i), r)?;
        }
    }
    for key in ["choices", "scale", "source", "target", "steps"] {
        let Some(list) = map.get(key) else { continue };
        let field = child(path, key);
        for (i, component) in array(&field, list)?.iter().enumerate() {
            let p = item(&field, i);
            let c = object(&p, component)?;
            only_keys(&p, c, &["id", "description"])?;
            string(&child(&p, "id"), required(&p, c, "id")?)?;
            if let Some(d) = c.get("description") {
                language_map(&child(&p, "description"), d)?;
            }
        }
    }
    Ok(())
}

fn statement_ref(path: &str, value: &Value) -> Result {
    let map = object(path, value)?;
    only_keys(path, map, &["objectType", "id"])?;
    if map.get("objectType").and_then(Value::as_str) != Some("StatementRef") {
        return Err(Invalid::new(
            child(path, "objectType"),
            "must be \"StatementRef\"",
        ));
    }
    uuid(&child(path, "id"), required(path, map, "id")?)?;
    Ok(())
}

fn result(path: &str, value: &Value) -> Result {
    let map = object(path, value)?;
    only_keys(
        path,
        map,
        &[
            "score",
            "success",
            "completion",
            "response",
            "duration",
            "extensions",
        ],
    )?;
    if let Some(s) = map.get("score") {
        let field = child(path, "score");
        let score = object(&field, s)?;
        only_keys(&field, score, &["scaled", "raw", "min", "max"])?;
        let mut numbers = [None; 4];
        for (slot, key) in numbers.iter_mut().zip(["scaled", "raw", "min", "max"]) {
            if let Some(v) = score.get(key) {
                let f = child(&field, key);
                *slot = Some(
                    v.as_f64()
                        .ok_or_else(|| Invalid::new(f, "must be a number"))?,
                );
            }
        }
        let [scaled, raw, min, max] = numbers;
        if let Some(s) = scaled
            && !(-1.0..=1.0).contains(&s)
        {
            return Err(Invalid::new(
                child(&field, "scaled"),
                "must be between -1 and 1",
            ));
        }
        if let (Some(lo), Some(hi)) = (min, max)
            && lo > hi
        {
            return Err(Invalid::new(child(&field, "max"), "must not be below min"));
        }
        if let Some(r) = raw
            && (min.is_some_and(|lo| r < lo) || max.is_some_and(|hi| r > hi))
        {
            return Err(Invalid::new(
                child(&field, "raw"),
                "must be between min and max",
            ));
        }
    }
    for key in ["success", "completion"] {
        if let Some(v) = map.get(key)
            && !v.is_boolean()
        {
            return Err(Invalid::new(child(path, key), "must be true or false"));
        }
    }
    if let Some(r) = map.get("response") {
        string(&child(path, "response"), r)?;
    }
    if let Some(d) = map.get("duration") {
        let field = child(path, "duration");
        let text = string(&field, d)?;
        if !text.starts_with('P') || text.len() < 3 {
            return Err(Invalid::new(field, "must be an ISO 8601 duration"));
        }
    }
    if let Some(e) = map.get("extensions") {
        extensions(&child(path, "extensions"), e)?;
    }
    Ok(())
}

fn context(path: &str, value: &Value, object_is_activity: bool) -> Result {
    let map = object(path, value)?;
    only_keys(path, map, CONTEXT_KEYS)?;
    if let Some(r) = map.get("registration") {
        uuid(&child(path, "registration"), r)?;
    }
    if let Some(i) = map.get("instructor") {
        agent_or_group(&child(path, "instructor"), i)?;
    }
    if let Some(t) = map.get("team") {
        let field = child(path, "team");
        if t.get("objectType").and_then(Value::as_str) != Some("Group") {
            return Err(Invalid::new(
                child(&field, "objectType"),
                "must be \"Group\"",
            ));
        }
        agent_or_group(&field, t)?;
    }
    if let Some(ca) = map.get("contextActivities") {
        let field = child(path, "contextActivities");
        let activities = object(&field, ca)?;
        only_keys(&field, activities, CONTEXT_ACTIVITY_KEYS)?;
        for (key, v) in activities {
            let p = child(&field, key);
            match v {
                Value::Array(list) => {
                    for (i, a) in list.iter().enumerate() {
                        activity(&item(&p, i), a)?;
                    }
                }
                other => activity(&p, other)?,
            }
        }
    }
    for (key, inner, kind) in [
        ("contextAgents", "agent", "contextAgent"),
        ("contextGroups", "group", "contextGroup"),
    ] {
        let Some(list) = map.get(key) else { continue };
        let field = child(path, key);
        for (i, entry) in array(&field, list)?.iter().enumerate() {
            let p = item(&field, i);
            let e = object(&p, entry)?;
            only_keys(&p, e, &["objectType", inner, "relevantTypes"])?;
            if e.get("objectType").and_then(Value::as_str) != Some(kind) {
                return Err(Invalid::new(
                    child(&p, "objectType"),
                    format!("must be \"{kind}\""),
                ));
            }
            agent_or_group(&child(&p, inner), required(&p, e, inner)?)?;
            if let Some(types) = e.get("relevantTypes") {
                let tp = child(&p, "relevantTypes");
                let types = array(&tp, types)?;
                if types.is_empty() {
                    return Err(Invalid::new(tp, "must not be empty"));
                }
                for (j, t) in types.iter().enumerate() {
                    iri(&item(&tp, j), t)?;
                }
            }
        }
    }
    for key in ["revision", "platform"] {
        if let Some(v) = map.get(key) {
            let field = child(path, key);
            string(&field, v)?;
            if !object_is_activity {
                return Err(Invalid::new(
                    field,
                    "is only allowed when the object is an Activity",
                ));
            }
        }
    }
    if let Some(l) = map.get("language") {
        string(&child(path, "language"), l)?;
    }
    if let Some(s) = map.get("statement") {
        statement_ref(&child(path, "statement"), s)?;
    }
    if let Some(e) = map.get("extensions") {
        extensions(&child(path, "extensions"), e)?;
    }
    Ok(())
}

fn attachments(path: &str, value: &Value) -> Result {
    for (i, a) in array(path, value)?.iter().enumerate() {
        let p = item(path, i);
        let map = object(&p, a)?;
        only_keys(
            &p,
            map,
            &[
                "usageType",
                "display",
                "description",
                "contentType",
                "length",
                "sha2",
                "fileUrl",
            ],
        )?;
        iri(&child(&p, "usageType"), required(&p, map, "usageType")?)?;
        language_map(&child(&p, "display"), required(&p, map, "display")?)?;
        if let Some(d) = map.get("description") {
            language_map(&child(&p, "description"), d)?;
        }
        string(&child(&p, "contentType"), required(&p, map, "contentType")?)?;
        if !required(&p, map, "length")?.is_u64() {
            return Err(Invalid::new(
                child(&p, "length"),
                "must be a non-negative integer",
            ));
        }
        string(&child(&p, "sha2"), required(&p, map, "sha2")?)?;
        if let Some(u) = map.get("fileUrl") {
            iri(&child(&p, "fileUrl"), u)?;
        }
    }
    Ok(())
}

fn timestamp(path: &str, value: &Value) -> Result<OffsetDateTime> {
    let text = string(path, value)?;
    parse_timestamp(text).ok_or_else(|| {
        Invalid::new(
            path,
            "must be an RFC 3339 timestamp with a time zone, e.g. 2024-05-01T12:00:00Z",
        )
    })
}

fn language_map(path: &str, value: &Value) -> Result {
    let map = object(path, value)?;
    for (tag, text) in map {
        let field = child(path, tag);
        if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(Invalid::new(field, "is not a language tag"));
        }
        string(&field, text)?;
    }
    Ok(())
}

fn extensions(path: &str, value: &Value) -> Result {
    let map = object(path, value)?;
    for key in map.keys() {
        if !is_absolute_iri(key) {
            return Err(Invalid::new(
                child(path, key),
                "extension keys must be absolute IRIs",
            ));
        }
    }
    Ok(())
}

fn uuid(path: &str, value: &Value) -> Result<Uuid> {
    let text = string(path, value)?;
    // Only the hyphenated form is a valid xAPI UUID.
    if text.len() != 36 {
        return Err(Invalid::new(path, "must be a UUID"));
    }
    text.parse()
        .map_err(|_| Invalid::new(path, "must be a UUID"))
}

fn iri<'a>(path: &str, value: &'a Value) -> Result<&'a str> {
    let text = string(path, value)?;
    if is_absolute_iri(text) {
        Ok(text)
    } else {
        Err(Invalid::new(path, "must be an absolute IRI"))
    }
}

fn string<'a>(path: &str, value: &'a Value) -> Result<&'a str> {
    value
        .as_str()
        .ok_or_else(|| Invalid::new(path, "must be a string"))
}

fn object<'a>(path: &str, value: &'a Value) -> Result<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| Invalid::new(path, "must be a JSON object"))
}

fn array<'a>(path: &str, value: &'a Value) -> Result<&'a Vec<Value>> {
    value
        .as_array()
        .ok_or_else(|| Invalid::new(path, "must be an array"))
}

fn required<'a>(path: &str, map: &'a Map<String, Value>, key: &str) -> Result<&'a Value> {
    map.get(key)
        .ok_or_else(|| Invalid::new(child(path, key), "is required"))
}

fn only_keys(path: &str, map: &Map<String, Value>, allowed: &[&str]) -> Result {
    for (key, value) in map {
        if !allowed.contains(&key.as_str()) {
            return Err(Invalid::new(
                child(path, key),
                "is not a known property here",
            ));
        }
        if value.is_null() {
            return Err(Invalid::new(child(path, key), "must not be null"));
        }
    }
    Ok(())
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
            "actor": {"mbox": "mailto:ada@example.com", "name": "Ada"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
            "object": {"id": "http://example.com/courses/sql", "definition": {"name": {"en-US": "SQL"}}},
            "result": {"score": {"scaled": 0.8, "raw": 8, "min": 0, "max": 10}, "completion": true, "duration": "PT1H"},
            "context": {"registration": "0190abcd-0000-7000-8000-000000000001",
                        "contextActivities": {"parent": {"id": "http://example.com/p"}, "grouping": [{"id": "http://example.com/g"}]}},
            "timestamp": "2024-05-01T12:00:00.123+02:00",
            "version": "1.0.3"
        })
    }

    fn field_of(v: Value) -> String {
        statement(&v).unwrap_err().field
    }

    #[test]
    fn a_complete_statement_passes() {
        statement(&valid()).unwrap();
    }

    #[test]
    fn failures_name_the_field() {
        let mut v = valid();
        v["actor"]["mbox"] = json!("ada@example.com");
        let e = statement(&v).unwrap_err();
        assert_eq!(e.to_string(), "actor.mbox: must start with \"mailto:\"");

        let mut v = valid();
        v.as_object_mut().unwrap().remove("verb");
        assert_eq!(field_of(v), "verb");

        let mut v = valid();
        v["verb"]["id"] = json!("completed");
        assert_eq!(field_of(v), "verb.id");

        let mut v = valid();
        v["id"] = json!("not-a-uuid");
        assert_eq!(field_of(v), "id");

        let mut v = valid();
        v["timestamp"] = json!("2024-05-01 12:00");
        assert_eq!(field_of(v), "timestamp");

        let mut v = valid();
        v["version"] = json!("0.95");
        assert_eq!(field_of(v), "version");

        let mut v = valid();
        v["context"]["contextActivities"]["grouping"][0]["id"] = json!("x");
        assert_eq!(field_of(v), "context.contextActivities.grouping[0].id");

        let mut v = valid();
        v["result"]["score"]["scaled"] = json!(1.5);
        assert_eq!(field_of(v), "result.score.scaled");

        let mut v = valid();
        v["colour"] = json!("red");
        assert_eq!(field_of(v), "colour");

        let mut v = valid();
        v["result"]["response"] = Value::Null;
        assert_eq!(field_of(v), "result.response");
    }

    #[test]
    fn agents_need_exactly_one_identifier() {
        let mut v = valid();
        v["actor"] = json!({"name": "nobody"});
        assert_eq!(field_of(v), "actor");
        let mut v = valid();
        v["actor"] = json!({"mbox": "mailto:a@b.c", "openid": "http://id.example/a"});
        assert_eq!(field_of(v), "actor");
        let mut v = valid();
        v["actor"] = json!({"account": {"homePage": "http://lyceum.test", "name": ""}});
        assert_eq!(field_of(v), "actor.account.name");
        let mut v = valid();
        v["actor"] = json!({"mbox_sha1sum": "abc"});
        assert_eq!(field_of(v), "actor.mbox_sha1sum");
        let mut v = valid();
        v["actor"] = json!({"objectType": "Group", "member": [{"mbox": "mailto:a@b.c"}]});
        statement(&v).unwrap();
        v["actor"]["member"][0] = json!({"objectType": "Group", "mbox": "mailto:g@b.c"});
        assert_eq!(field_of(v), "actor.member[0].objectType");
    }

    #[test]
    fn objects_of_every_kind() {
        let mut v = valid();
        v["object"] = json!({"objectType": "Agent", "openid": "http://id.example/b"});
        statement(&v).unwrap();
        v["object"] =
            json!({"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"});
        statement(&v).unwrap();
        v["verb"]["id"] = json!(verbs::VOIDED);
        statement(&v).unwrap();
        v["object"] = json!({"id": "http://example.com/a"});
        assert_eq!(field_of(v.clone()), "object");
        v["verb"]["id"] = json!(verbs::COMPLETED);
        v["object"] = json!({"objectType": "SubStatement",
            "actor": {"mbox": "mailto:a@b.c"}, "verb": {"id": "http://example.com/v"},
            "object": {"objectType": "SubStatement"}});
        assert_eq!(field_of(v), "object.object.objectType");
    }

    #[test]
    fn version_headers() {
        for ok in ["1.0", "1.0.0", "1.0.3", "2.0.0", "2.0"] {
            assert!(version_header(ok), "{ok}");
        }
        for bad in ["", "1", "0.95", "1.1.0", "3.0.0", "1.0.x", "1.0.0.0"] {
            assert!(!version_header(bad), "{bad}");
        }
    }

    #[test]
    fn errors_nest_under_a_prefix() {
        let e = Invalid::new("actor.mbox", "bad").within("statements[2]");
        assert_eq!(e.to_string(), "statements[2].actor.mbox: bad");
        let e = Invalid::new("", "must be a JSON object").within("statements[0]");
        assert_eq!(e.field, "statements[0]");
    }
}
