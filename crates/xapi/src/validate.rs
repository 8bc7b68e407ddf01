//! Checks of statements as an LRS receives them (xAPI 1.0.3 and 2.0 data model). Every failure
//! names the field at fault, e.g. `actor.mbox: must start with "mailto:"`.
//!
//! Unknown properties and `null` values are refused (outside `extensions`), as the
//! specification asks of an LRS. The version decides what 2.0 added (`contextAgents`,
//! `contextGroups`, statements of version 2.0.x).

use serde_json::{Map, Value};

use crate::datatypes::{self, Timestamp};
use crate::version::XapiVersion;
use crate::vocab::verbs;

pub use crate::datatypes::is_absolute_iri;

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

/// The usage type of the attachment that carries a statement's signature.
pub const SIGNATURE_USAGE_TYPE: &str = "http://adlnet.gov/expapi/attachments/signature";

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
/// Interaction types and the component lists each may have.
const INTERACTION_TYPES: &[(&str, &[&str])] = &[
    ("true-false", &[]),
    ("choice", &["choices"]),
    ("fill-in", &[]),
    ("long-fill-in", &[]),
    ("matching", &["source", "target"]),
    ("performance", &["steps"]),
    ("sequencing", &["choices"]),
    ("likert", &["scale"]),
    ("numeric", &[]),
    ("other", &[]),
];
const COMPONENT_LISTS: [&str; 5] = ["choices", "scale", "source", "target", "steps"];
const CONTEXT_KEYS_V1: &[&str] = &[
    "registration",
    "instructor",
    "team",
    "contextActivities",
    "revision",
    "platform",
    "language",
    "statement",
    "extensions",
];
const CONTEXT_KEYS_V2: &[&str] = &[
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
const ATTACHMENT_KEYS: &[&str] = &[
    "usageType",
    "display",
    "description",
    "contentType",
    "length",
    "sha2",
    "fileUrl",
];

/// Checks a whole statement under the 2.0 rules (the platform's own statements).
pub fn statement(value: &Value) -> Result {
    statement_as(value, XapiVersion::V2)
}

/// Checks a whole statement under the rules of `version`.
pub fn statement_as(value: &Value, version: XapiVersion) -> Result {
    Rules { version }.statement(&Path::Root(""), value, false)
}

/// Checks an Agent or Group (an `actor`, the `agent` query parameter).
pub fn agent_or_group(path: &str, value: &Value) -> Result {
    let path = Path::Root(path);
    let path = &path;
    Rules {
        version: XapiVersion::V2,
    }
    .actor(path, value)
}

/// Checks an `X-Experience-API-Version` header value: 1.0, 1.0.x, 2.0 or 2.0.x.
pub fn version_header(value: &str) -> bool {
    XapiVersion::from_header(value).is_some()
}

/// Parses an xAPI timestamp to its instant (see [`datatypes::parse_timestamp`]).
pub fn parse_timestamp(value: &str) -> Option<time::OffsetDateTime> {
    datatypes::parse_timestamp(value).map(|t| t.at)
}

struct Rules {
    version: XapiVersion,
}

impl Rules {
    fn statement(&self, path: &Path<'_>, value: &Value, sub: bool) -> Result {
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
        if sub && map.get("objectType").and_then(Value::as_str) != Some("SubStatement") {
            return Err(Invalid::new(
                child(path, "objectType"),
                "must be \"SubStatement\"",
            ));
        }
        if let Some(id) = map.get("id") {
            uuid(&child(path, "id"), id)?;
        }
        self.actor(&child(path, "actor"), required(path, map, "actor")?)?;
        let verb_id = self.verb(&child(path, "verb"), required(path, map, "verb")?)?;
        let object_path = child(path, "object");
        let object_value = required(path, map, "object")?;
        let object_type = self.statement_object(&object_path, object_value, sub)?;
        if verb_id == verbs::VOIDED && object_type != "StatementRef" {
            return Err(Invalid::new(
                object_path,
                "the object of a voiding statement must be a StatementRef",
            ));
        }
        if let Some(r) = map.get("result") {
            self.result(&child(path, "result"), r)?;
        }
        if let Some(c) = map.get("context") {
            self.context(&child(path, "context"), c, object_type == "Activity")?;
        }
        if let Some(t) = map.get("timestamp") {
            timestamp(&child(path, "timestamp"), t)?;
        }
        if let Some(t) = map.get("stored") {
            timestamp(&child(path, "stored"), t)?;
        }
        if let Some(a) = map.get("authority") {
            self.authority(&child(path, "authority"), a)?;
        }
        if let Some(v) = map.get("version") {
            let field = child(path, "version");
            let text = string(&field, v)?;
            if !self.version.accepts_statement_version(text) {
                let allowed = match self.version {
                    XapiVersion::V1 => "1.0 or 1.0.x",
                    XapiVersion::V2 => "1.0, 1.0.x, 2.0 or 2.0.x",
                };
                return Err(Invalid::new(field, format!("must be {allowed}")));
            }
        }
        if let Some(a) = map.get("attachments") {
            self.attachments(&child(path, "attachments"), a)?;
        }
        Ok(())
    }

    /// Checks the object of a statement; returns its objectType.
    fn statement_object(
        &self,
        path: &Path<'_>,
        value: &Value,
        in_sub: bool,
    ) -> Result<&'static str> {
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
            "Activity" => self.activity(path, value)?,
            "Agent" | "Group" => self.actor(path, value)?,
            "StatementRef" => statement_ref(path, value)?,
            _ if in_sub => {
                return Err(Invalid::new(
                    child(path, "objectType"),
                    "a SubStatement cannot contain a SubStatement",
                ));
            }
            _ => self.statement(path, value, true)?,
        }
        Ok(kind)
    }

    /// An Agent or a Group.
    fn actor(&self, path: &Path<'_>, value: &Value) -> Result {
        let map = object(path, value)?;
        match map.get("objectType") {
            None => self.agent(path, map),
            Some(Value::String(t)) if t == "Agent" => self.agent(path, map),
            Some(Value::String(t)) if t == "Group" => self.group(path, map),
            Some(_) => Err(Invalid::new(
                child(path, "objectType"),
                "must be \"Agent\" or \"Group\"",
            )),
        }
    }

    fn agent(&self, path: &Path<'_>, map: &Map<String, Value>) -> Result {
        only_keys(path, map, AGENT_KEYS)?;
        if let Some(t) = map.get("objectType")
            && t != "Agent"
        {
            return Err(Invalid::new(child(path, "objectType"), "must be \"Agent\""));
        }
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

    fn group(&self, path: &Path<'_>, map: &Map<String, Value>) -> Result {
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
                    self.agent(&p, member)?;
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

    /// An Agent, or (OAuth three-legged) an anonymous Group of exactly two Agents.
    fn authority(&self, path: &Path<'_>, value: &Value) -> Result {
        self.actor(path, value)?;
        let map = object(path, value)?;
        if map.get("objectType").and_then(Value::as_str) == Some("Group") {
            if identifiers(path, map)? > 0 {
                return Err(Invalid::new(
                    path,
                    "a Group authority must be anonymous (two Agents: the application and the user)",
                ));
            }
            let n = map
                .get("member")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if n != 2 {
                return Err(Invalid::new(
                    child(path, "member"),
                    "a Group authority must have exactly two members",
                ));
            }
        }
        Ok(())
    }

    fn verb<'a>(&self, path: &Path<'_>, value: &'a Value) -> Result<&'a str> {
        let map = object(path, value)?;
        only_keys(path, map, &["id", "display"])?;
        let id = iri(&child(path, "id"), required(path, map, "id")?)?;
        if let Some(d) = map.get("display") {
            language_map(&child(path, "display"), d)?;
        }
        Ok(id)
    }

    fn activity(&self, path: &Path<'_>, value: &Value) -> Result {
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

    fn result(&self, path: &Path<'_>, value: &Value) -> Result {
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
            score(&child(path, "score"), s)?;
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
            if !datatypes::is_duration(string(&field, d)?) {
                return Err(Invalid::new(
                    field,
                    "must be an ISO 8601 duration, e.g. PT1H30M",
                ));
            }
        }
        if let Some(e) = map.get("extensions") {
            extensions(&child(path, "extensions"), e)?;
        }
        Ok(())
    }

    fn context(&self, path: &Path<'_>, value: &Value, object_is_activity: bool) -> Result {
        let map = object(path, value)?;
        only_keys(
            path,
            map,
            match self.version {
                XapiVersion::V1 => CONTEXT_KEYS_V1,
                XapiVersion::V2 => CONTEXT_KEYS_V2,
            },
        )?;
        if let Some(r) = map.get("registration") {
            uuid(&child(path, "registration"), r)?;
        }
        if let Some(i) = map.get("instructor") {
            self.actor(&child(path, "instructor"), i)?;
        }
        if let Some(t) = map.get("team") {
            let field = child(path, "team");
            object(&field, t)?;
            if t.get("objectType").and_then(Value::as_str) != Some("Group") {
                return Err(Invalid::new(
                    child(&field, "objectType"),
                    "must be \"Group\"",
                ));
            }
            self.actor(&field, t)?;
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
                            self.activity(&item(&p, i), a)?;
                        }
                    }
                    other => self.activity(&p, other)?,
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
                let who_path = child(&p, inner);
                let who = required(&p, e, inner)?;
                self.actor(&who_path, who)?;
                let is_group = who.get("objectType").and_then(Value::as_str) == Some("Group");
                if inner == "agent" && is_group {
                    return Err(Invalid::new(who_path, "must be an Agent"));
                }
                if inner == "group" && !is_group {
                    return Err(Invalid::new(
                        child(&who_path, "objectType"),
                        "must be \"Group\"",
                    ));
                }
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
            let field = child(path, "language");
            if !datatypes::is_language_tag(string(&field, l)?) {
                return Err(Invalid::new(field, "must be an RFC 5646 language tag"));
            }
        }
        if let Some(s) = map.get("statement") {
            statement_ref(&child(path, "statement"), s)?;
        }
        if let Some(e) = map.get("extensions") {
            extensions(&child(path, "extensions"), e)?;
        }
        Ok(())
    }

    fn attachments(&self, path: &Path<'_>, value: &Value) -> Result {
        for (i, a) in array(path, value)?.iter().enumerate() {
            let p = item(path, i);
            let map = object(&p, a)?;
            only_keys(&p, map, ATTACHMENT_KEYS)?;
            iri(&child(&p, "usageType"), required(&p, map, "usageType")?)?;
            language_map(&child(&p, "display"), required(&p, map, "display")?)?;
            if let Some(d) = map.get("description") {
                language_map(&child(&p, "description"), d)?;
            }
            let ct_field = child(&p, "contentType");
            if !datatypes::is_media_type(string(&ct_field, required(&p, map, "contentType")?)?) {
                return Err(Invalid::new(ct_field, "must be an Internet media type"));
            }
            if !required(&p, map, "length")?.is_u64() {
                return Err(Invalid::new(
                    child(&p, "length"),
                    "must be a non-negative integer",
                ));
            }
            let sha_field = child(&p, "sha2");
            if !datatypes::is_sha2_hex(string(&sha_field, required(&p, map, "sha2")?)?) {
                return Err(Invalid::new(
                    sha_field,
                    "must be the hex SHA-2 digest of the attachment",
                ));
            }
            if let Some(u) = map.get("fileUrl") {
                let field = child(&p, "fileUrl");
                if !datatypes::is_irl(string(&field, u)?) {
                    return Err(Invalid::new(field, "must be an absolute IRL"));
                }
            }
        }
        Ok(())
    }
}

/// Checks the identifiers present; returns how many there are.
fn identifiers(path: &Path<'_>, map: &Map<String, Value>) -> Result<usize> {
    let mut count = 0;
    for ifi in IFIS {
        let Some(value) = map.get(ifi) else { continue };
        count += 1;
        let field = child(path, ifi);
        match ifi {
            "mbox" => {
                let v = string(&field, value)?;
                if !v.starts_with("mailto:") {
                    return Err(Invalid::new(field, "must start with \"mailto:\""));
                }
                if !datatypes::is_mailto(v) {
                    return Err(Invalid::new(field, "must be mailto: and an e-mail address"));
                }
            }
            "mbox_sha1sum" => {
                if !datatypes::is_sha1_hex(string(&field, value)?) {
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
                let home = child(&field, "homePage");
                if !datatypes::is_irl(string(&home, required(&field, account, "homePage")?)?) {
                    return Err(Invalid::new(home, "must be an absolute IRL"));
                }
                string(&child(&field, "name"), required(&field, account, "name")?)?;
            }
        }
    }
    Ok(count)
}

fn definition(path: &Path<'_>, value: &Value) -> Result {
    let map = object(path, value)?;
    only_keys(path, map, DEFINITION_KEYS)?;
    for key in ["name", "description"] {
        if let Some(v) = map.get(key) {
            language_map(&child(path, key), v)?;
        }
    }
    if let Some(v) = map.get("type") {
        iri(&child(path, "type"), v)?;
    }
    if let Some(v) = map.get("moreInfo") {
        let field = child(path, "moreInfo");
        if !datatypes::is_irl(string(&field, v)?) {
            return Err(Invalid::new(field, "must be an absolute IRL"));
        }
    }
    if let Some(e) = map.get("extensions") {
        extensions(&child(path, "extensions"), e)?;
    }
    let interaction = match map.get("interactionType") {
        Some(t) => {
            let field = child(path, "interactionType");
            let name = string(&field, t)?;
            let Some((_, lists)) = INTERACTION_TYPES.iter().find(|(n, _)| *n == name) else {
                let names: Vec<&str> = INTERACTION_TYPES.iter().map(|(n, _)| *n).collect();
                return Err(Invalid::new(
                    field,
                    format!("must be one of {}", names.join(", ")),
                ));
            };
            Some(*lists)
        }
        None => None,
    };
    if let Some(p) = map.get("correctResponsesPattern") {
        let field = child(path, "correctResponsesPattern");
        if interaction.is_none() {
            return Err(Invalid::new(field, "needs an interactionType"));
        }
        for (i, r) in array(&field, p)?.iter().enumerate() {
            string(&item(&field, i), r)?;
        }
    }
    for key in COMPONENT_LISTS {
        let Some(list) = map.get(key) else { continue };
        let field = child(path, key);
        match interaction {
            Some(allowed) if allowed.contains(&key) => {}
            Some(_) => {
                return Err(Invalid::new(
                    field,
                    "is not allowed with this interactionType",
                ));
            }
            None => return Err(Invalid::new(field, "needs an interactionType")),
        }
        let components = array(&field, list)?;
        let mut seen = std::collections::HashSet::new();
        for (i, component) in components.iter().enumerate() {
            let p = item(&field, i);
            let c = object(&p, component)?;
            only_keys(&p, c, &["id", "description"])?;
            let id_field = child(&p, "id");
            let id = string(&id_field, required(&p, c, "id")?)?;
            if id.is_empty() || id.chars().any(char::is_whitespace) {
                return Err(Invalid::new(
                    id_field,
                    "must be a non-empty string without spaces",
                ));
            }
            if !seen.insert(id) {
                return Err(Invalid::new(id_field, "must be unique within the list"));
            }
            if let Some(d) = c.get("description") {
                language_map(&child(&p, "description"), d)?;
            }
        }
    }
    Ok(())
}

fn score(field: &Path<'_>, value: &Value) -> Result {
    let score = object(field, value)?;
    only_keys(field, score, &["scaled", "raw", "min", "max"])?;
    let mut numbers = [None; 4];
    for (slot, key) in numbers.iter_mut().zip(["scaled", "raw", "min", "max"]) {
        if let Some(v) = score.get(key) {
            let f = child(field, key);
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
            child(field, "scaled"),
            "must be between -1 and 1",
        ));
    }
    if let (Some(lo), Some(hi)) = (min, max)
        && lo >= hi
    {
        return Err(Invalid::new(child(field, "min"), "must be less than max"));
    }
    if let Some(r) = raw {
        if min.is_some_and(|lo| r < lo) {
            return Err(Invalid::new(child(field, "raw"), "must not be below min"));
        }
        if max.is_some_and(|hi| r > hi) {
            return Err(Invalid::new(child(field, "raw"), "must not be above max"));
        }
    }
    Ok(())
}

fn statement_ref(path: &Path<'_>, value: &Value) -> Result {
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

fn timestamp(path: &Path<'_>, value: &Value) -> Result<Timestamp> {
    let text = string(path, value)?;
    datatypes::parse_timestamp(text).ok_or_else(|| {
        Invalid::new(
            path,
            "must be an ISO 8601 timestamp with a time zone, e.g. 2024-05-01T12:00:00Z",
        )
    })
}

fn language_map(path: &Path<'_>, value: &Value) -> Result {
    let map = object(path, value)?;
    for (tag, text) in map {
        let field = child(path, tag);
        if !datatypes::is_language_tag(tag) {
            return Err(Invalid::new(field, "is not an RFC 5646 language tag"));
        }
        string(&field, text)?;
    }
    Ok(())
}

fn extensions(path: &Path<'_>, value: &Value) -> Result {
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

fn uuid(path: &Path<'_>, value: &Value) -> Result {
    let text = string(path, value)?;
    datatypes::parse_uuid(text)
        .map(|_| ())
        .ok_or_else(|| Invalid::new(path, "must be a UUID"))
}

fn iri<'a>(path: &Path<'_>, value: &'a Value) -> Result<&'a str> {
    let text = string(path, value)?;
    if is_absolute_iri(text) {
        Ok(text)
    } else {
        Err(Invalid::new(path, "must be an absolute IRI"))
    }
}

fn string<'a>(path: &Path<'_>, value: &'a Value) -> Result<&'a str> {
    value
        .as_str()
        .ok_or_else(|| Invalid::new(path, "must be a string"))
}

fn object<'a>(path: &Path<'_>, value: &'a Value) -> Result<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| Invalid::new(path, "must be a JSON object"))
}

fn array<'a>(path: &Path<'_>, value: &'a Value) -> Result<&'a Vec<Value>> {
    value
        .as_array()
        .ok_or_else(|| Invalid::new(path, "must be an array"))
}

fn required<'a>(path: &Path<'_>, map: &'a Map<String, Value>, key: &str) -> Result<&'a Value> {
    map.get(key)
        .ok_or_else(|| Invalid::new(child(path, key), "is required"))
}

fn only_keys(path: &Path<'_>, map: &Map<String, Value>, allowed: &[&str]) -> Result {
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

/// Where a value is in the statement, built as the checks descend and spelled out
/// (`context.contextActivities.parent[0].id`) only when a check fails.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root(&'a str),
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self, out: &mut String) {
        match self {
            Path::Root(p) => out.push_str(p),
            Path::Key(parent, key) => {
                parent.render(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Path::Index(parent, i) => {
                parent.render(out);
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
}

impl From<&Path<'_>> for String {
    fn from(p: &Path<'_>) -> String {
        let mut out = String::new();
        p.render(&mut out);
        out
    }
}

impl From<Path<'_>> for String {
    fn from(p: Path<'_>) -> String {
        String::from(&p)
    }
}

fn child<'a>(path: &'a Path<'a>, key: &'a str) -> Path<'a> {
    Path::Key(path, key)
}

fn item<'a>(path: &'a Path<'a>, index: usize) -> Path<'a> {
    Path::Index(path, index)
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
        statement_as(&valid(), XapiVersion::V1).unwrap();
    }

    #[test]
    fn failures_name_the_field() {
        let mut v = valid();
        v["actor"]["mbox"] = json!("ada@example.com");
        let e = statement(&v).unwrap_err();
        assert_eq!(e.to_string(), "actor.mbox: must start with \"mailto:\"");

        type Change = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Change)> = vec![
            (
                "verb",
                Box::new(|v| drop(v.as_object_mut().unwrap().remove("verb"))),
            ),
            (
                "verb.id",
                Box::new(|v| v["verb"]["id"] = json!("completed")),
            ),
            ("id", Box::new(|v| v["id"] = json!("not-a-uuid"))),
            (
                "timestamp",
                Box::new(|v| v["timestamp"] = json!("2024-05-01 12:00")),
            ),
            ("version", Box::new(|v| v["version"] = json!("0.95"))),
            (
                "context.contextActivities.grouping[0].id",
                Box::new(|v| v["context"]["contextActivities"]["grouping"][0]["id"] = json!("x")),
            ),
            (
                "result.score.scaled",
                Box::new(|v| v["result"]["score"]["scaled"] = json!(1.5)),
            ),
            (
                "result.score.min",
                Box::new(|v| v["result"]["score"]["min"] = json!(10)),
            ),
            (
                "result.duration",
                Box::new(|v| v["result"]["duration"] = json!("PA1H")),
            ),
            ("colour", Box::new(|v| v["colour"] = json!("red"))),
            (
                "result.response",
                Box::new(|v| v["result"]["response"] = Value::Null),
            ),
            (
                "verb.display.a12345678",
                Box::new(|v| v["verb"]["display"] = json!({"a12345678": "x"})),
            ),
            (
                "context.language",
                Box::new(|v| v["context"]["language"] = json!("not a tag")),
            ),
        ];
        for (want, change) in cases {
            let mut v = valid();
            change(&mut v);
            assert_eq!(field_of(v), want);
        }
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
        v["actor"] = json!({"account": {"homePage": "lyceum.test", "name": "x"}});
        assert_eq!(field_of(v), "actor.account.homePage");
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
    fn authorities_are_agents_or_two_member_groups() {
        let mut v = valid();
        v["authority"] = json!({"objectType": "Group", "member": [
            {"mbox": "mailto:app@b.c"}, {"mbox": "mailto:user@b.c"}]});
        statement(&v).unwrap();
        v["authority"]["member"]
            .as_array_mut()
            .unwrap()
            .push(json!({"mbox": "mailto:x@b.c"}));
        assert_eq!(field_of(v.clone()), "authority.member");
        v["authority"] = json!({"objectType": "Group", "mbox": "mailto:g@b.c"});
        assert_eq!(field_of(v), "authority");
    }

    #[test]
    fn objects_of_every_kind() {
        let mut v = valid();
        v["object"] = json!({"objectType": "Agent", "openid": "http://id.example/b"});
        v.as_object_mut().unwrap().remove("context");
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
        assert_eq!(field_of(v.clone()), "object.object.objectType");
        v["object"] = json!({"objectType": "SubStatement", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
            "actor": {"mbox": "mailto:a@b.c"}, "verb": {"id": "http://example.com/v"},
            "object": {"id": "http://example.com/a"}});
        assert_eq!(field_of(v), "object.id");
    }

    #[test]
    fn revision_and_platform_only_with_activities() {
        let mut v = valid();
        v["context"]["platform"] = json!("web");
        statement(&v).unwrap();
        v["object"] = json!({"objectType": "Agent", "mbox": "mailto:b@b.c"});
        assert_eq!(field_of(v), "context.platform");
    }

    #[test]
    fn interactions() {
        let mut v = valid();
        v["object"]["definition"] = json!({"interactionType": "choice",
            "correctResponsesPattern": ["a"],
            "choices": [{"id": "a", "description": {"en-US": "A"}}, {"id": "b"}]});
        statement(&v).unwrap();
        v["object"]["definition"]["choices"][1]["id"] = json!("a");
        assert_eq!(field_of(v.clone()), "object.definition.choices[1].id");
        v["object"]["definition"]["interactionType"] = json!("likert");
        assert_eq!(field_of(v), "object.definition.choices");
    }

    #[test]
    fn context_agents_are_2_0_only() {
        let mut v = valid();
        v["context"]["contextAgents"] = json!([{"objectType": "contextAgent",
            "agent": {"mbox": "mailto:a@b.c"}, "relevantTypes": ["http://example.com/t"]}]);
        statement_as(&v, XapiVersion::V2).unwrap();
        assert_eq!(
            statement_as(&v, XapiVersion::V1).unwrap_err().field,
            "context.contextAgents"
        );
        v["context"]["contextAgents"][0]["relevantTypes"] = json!([]);
        assert_eq!(field_of(v), "context.contextAgents[0].relevantTypes");
    }

    #[test]
    fn statement_versions_follow_the_request() {
        let mut v = valid();
        v["version"] = json!("2.0.0");
        statement_as(&v, XapiVersion::V2).unwrap();
        assert_eq!(
            statement_as(&v, XapiVersion::V1).unwrap_err().field,
            "version"
        );
        v["version"] = json!("1.0");
        statement_as(&v, XapiVersion::V1).unwrap();
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
