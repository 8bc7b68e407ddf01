//! Who is calling and what they may do: xAPI clients (HTTP Basic, xAPI scopes) and platform
//! tokens (Bearer JWT, roles).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use lyceum_auth::{AuthError, Principal, Role};
use lyceum_server::{ApiError, ErrorKind};
use lyceum_xapi::Statement;
use lyceum_xapi::platform::Identity;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::App;
use crate::clients::Client;
use crate::error::{LrsError, Result};

/// Which statements a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Every statement.
    All,
    /// Statements whose actor is this platform person (with the person's agent key).
    Person { person: Uuid, key: String },
    /// Statements stored under this authority (agent key): `statements/read/mine`.
    Authority(String),
}

/// Which statements a caller may record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WriteRight {
    /// Any statement.
    Any,
    /// Only statements whose actor is this platform person.
    OwnOnly(Uuid),
    /// None.
    Refused,
}

/// What a caller may do with documents (state, activity profiles, agent profiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocumentRight {
    /// Read and write.
    ReadWrite,
    /// Read only.
    Read,
    /// Read and write documents of one agent (a platform person's own), read the rest.
    OwnAgent,
    /// Nothing.
    None,
}

/// A caller of the LRS, with the authority its statements are stored under.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub authority: Value,
    pub write: WriteRight,
    pub read: Option<Reach>,
    /// The State resource.
    pub state: DocumentRight,
    /// The Activity Profile and Agent Profile resources.
    pub profile: DocumentRight,
    /// The Activities and Agents resources.
    pub describe: bool,
    /// Whether statements of this caller may change canonical activity definitions.
    pub define: bool,
    /// The caller's own agent key, for [`DocumentRight::OwnAgent`].
    pub own_agent: Option<String>,
}

/// The agent that vouches for statements the platform itself submits (bus, service tokens).
pub(crate) fn platform_authority(identity: &Identity) -> Value {
    json!({
        "objectType": "Agent",
        "name": "Lyceum",
        "account": {"homePage": identity.home_page(), "name": "lyceum"},
    })
}

impl Caller {
    /// The platform itself (statements from the bus).
    pub fn platform(identity: &Identity) -> Caller {
        Caller {
            authority: platform_authority(identity),
            write: WriteRight::Any,
            read: Some(Reach::All),
            state: DocumentRight::ReadWrite,
            profile: DocumentRight::ReadWrite,
            describe: true,
            define: true,
            own_agent: None,
        }
    }

    /// An xAPI client, by its scopes.
    pub fn client(client: Client) -> Caller {
        let all = client.has_any(&["all"]);
        let all_read = all || client.has_any(&["all/read"]);
        let write = if client.has_any(&["all", "statements/write"]) {
            WriteRight::Any
        } else {
            WriteRight::Refused
        };
        let read = if client.has_any(&["all", "all/read", "statements/read"]) {
            Some(Reach::All)
        } else if client.has_any(&["statements/read/mine"]) {
            lyceum_xapi::agent::key(&client.authority).map(Reach::Authority)
        } else {
            None
        };
        let documents = |scope: &str| {
            if all || client.has_any(&[scope]) {
                DocumentRight::ReadWrite
            } else if all_read {
                DocumentRight::Read
            } else {
                DocumentRight::None
            }
        };
        Caller {
            state: documents("state"),
            profile: documents("profile"),
            describe: all_read || client.has_any(&["define", "statements/read", "profile"]),
            define: all || client.has_any(&["define"]),
            own_agent: None,
            authority: client.authority,
            write,
            read,
        }
    }

    /// A platform token's holder: administrators and services do anything; instructors and
    /// managers read every statement; everyone records and reads their own statements and
    /// keeps their own state and agent profile.
    pub fn principal(p: &Principal, identity: &Identity) -> Caller {
        let Some(person) = p.person_id else {
            return Caller::platform(identity);
        };
        let authority = identity.agent(person, p.name.as_deref().unwrap_or_default());
        let key = lyceum_xapi::agent::key(&authority).unwrap_or_default();
        let (write, read, documents) = match p.role {
            Role::Admin | Role::Service => (WriteRight::Any, Reach::All, DocumentRight::ReadWrite),
            Role::Manager | Role::Instructor => (
                WriteRight::OwnOnly(person),
                Reach::All,
                DocumentRight::OwnAgent,
            ),
            Role::Learner | Role::Author => (
                WriteRight::OwnOnly(person),
                Reach::Person {
                    person,
                    key: key.clone(),
                },
                DocumentRight::OwnAgent,
            ),
        };
        let admin = documents == DocumentRight::ReadWrite;
        Caller {
            authority,
            write,
            read: Some(read),
            state: documents,
            profile: documents,
            describe: true,
            define: admin,
            own_agent: Some(key),
        }
    }

    /// The statements this caller may read; refused without a read scope.
    pub fn reach(&self) -> Result<Reach> {
        self.read.clone().ok_or_else(|| {
            forbidden(
                "reading statements needs the scope statements/read, statements/read/mine, all/read or all",
            )
        })
    }

    /// Refuses unless the caller may read (`write` false) or change (`write` true) documents
    /// under `right`; `agent_key` is the document's agent, when it has one.
    pub fn check_documents(
        &self,
        right: DocumentRight,
        scope: &str,
        write: bool,
        agent_key: Option<&str>,
    ) -> Result<()> {
        let allowed = match right {
            DocumentRight::ReadWrite => true,
            DocumentRight::Read => !write,
            DocumentRight::OwnAgent => {
                !write || (agent_key.is_some() && agent_key == self.own_agent.as_deref())
            }
            DocumentRight::None => false,
        };
        if allowed {
            Ok(())
        } else if write {
            Err(forbidden(&format!(
                "changing these documents needs the scope {scope} or all"
            )))
        } else {
            Err(forbidden(&format!(
                "reading these documents needs the scope {scope}, all/read or all"
            )))
        }
    }

    /// Refuses the Activities and Agents resources to callers without a reading scope.
    pub fn check_describe(&self) -> Result<()> {
        if self.describe {
            Ok(())
        } else {
            Err(forbidden(
                "reading activities and agents needs the scope all/read, define, statements/read or all",
            ))
        }
    }

    /// Refuses unless the caller may record every statement of the batch. `field` names a
    /// statement's position in the request (`statements[1]`, or empty for a single one).
    pub fn check_write<'a>(
        &self,
        statements: impl IntoIterator<Item = (&'a str, &'a Statement)>,
        identity: &Identity,
    ) -> Result<()> {
        match &self.write {
            WriteRight::Any => Ok(()),
            WriteRight::Refused => Err(forbidden(
                "recording statements needs the scope statements/write or all",
            )),
            WriteRight::OwnOnly(person) => {
                for (field, s) in statements {
                    if identity.person_of(s.actor()) != Some(*person) {
                        let at = if field.is_empty() {
                            "actor".to_string()
                        } else {
                            format!("{field}.actor")
                        };
                        return Err(forbidden(&format!(
                            "{at}: you may only record statements about yourself"
                        )));
                    }
                }
                Ok(())
            }
        }
    }
}

fn forbidden(message: &str) -> LrsError {
    AuthError::Forbidden(message.to_string()).into()
}

/// Authenticates an xAPI HTTP request: `Basic` with an xAPI client or `Bearer` with a
/// platform token.
pub(crate) async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Caller> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| unauthenticated("missing credentials: use HTTP Basic or a Bearer token"))?
        .to_str()
        .map_err(|_| unauthenticated("the Authorization header is not ASCII"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| unauthenticated("malformed Basic credentials"))?;
        let (key, secret) = decoded
            .split_once(':')
            .ok_or_else(|| unauthenticated("malformed Basic credentials"))?;
        let client = app
            .clients
            .verify(&app.store, key, secret)
            .await?
            .ok_or_else(|| unauthenticated("invalid xAPI credentials"))?;
        Ok(Caller::client(client))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        let principal = app.verifier.verify_header(Some(value))?;
        Ok(Caller::principal(&principal, &app.identity))
    } else {
        Err(unauthenticated(
            "unsupported authorization scheme: use HTTP Basic or a Bearer token",
        ))
    }
}

fn unauthenticated(message: &str) -> LrsError {
    ApiError::new(ErrorKind::Unauthenticated, message).into()
}
