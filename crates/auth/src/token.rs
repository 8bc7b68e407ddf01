//! Tokens: signing (gateway), verification (every service), roles, and the gRPC interceptor.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::keys::KeyPairDer;

/// A platform role. People have one; internal callers use `service`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Administers the platform.
    Admin,
    /// Learning & development staff: builds courses.
    Author,
    /// Runs sessions and grades.
    Instructor,
    /// Sees the people who report to them.
    Manager,
    /// Learns.
    Learner,
    /// An internal system (the gateway's own calls), never a person.
    Service,
}

impl Role {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Author => "author",
            Role::Instructor => "instructor",
            Role::Manager => "manager",
            Role::Learner => "learner",
            Role::Service => "service",
        }
    }

    /// Parses a person's role name (not `service`).
    pub fn parse_person(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "author" => Some(Role::Author),
            "instructor" => Some(Role::Instructor),
            "manager" => Some(Role::Manager),
            "learner" => Some(Role::Learner),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The claims of a Lyceum token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Person id (UUID), or `service:<name>` for internal callers.
    pub sub: String,
    /// Role.
    pub role: Role,
    /// E-mail of a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Display name of a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Space-separated scopes of a service token.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Expires at (unix seconds).
    pub exp: i64,
    /// Token id.
    pub jti: String,
}

/// Why a call is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credentials were sent.
    #[error("missing bearer token")]
    Missing,
    /// The token is expired.
    #[error("token expired")]
    Expired,
    /// The token is malformed, tampered with, wrongly signed or of a refused algorithm.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The caller is known but lacks the role or ownership the call needs.
    #[error("{0}")]
    Forbidden(String),
}

impl AuthError {
    /// Whether the right answer is 401 (else 403).
    pub fn is_unauthenticated(&self) -> bool {
        !matches!(self, AuthError::Forbidden(_))
    }
}

impl From<AuthError> for tonic::Status {
    fn from(e: AuthError) -> Self {
        if e.is_unauthenticated() {
            tonic::Status::unauthenticated(e.to_string())
        } else {
            tonic::Status::permission_denied(e.to_string())
        }
    }
}

/// Who is calling, from a verified token.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token subject.
    pub subject: String,
    /// The person id, for people.
    pub person_id: Option<Uuid>,
    /// Role.
    pub role: Role,
    /// E-mail, for people.
    pub email: Option<String>,
    /// Display name, for people.
    pub name: Option<String>,
    /// Scopes of a service token.
    pub scopes: Vec<String>,
}

impl Principal {
    /// Refuses unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), AuthError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
            Err(AuthError::Forbidden(format!(
                "this needs the role {}; you are {}",
                names.join(" or "),
                self.role
            )))
        }
    }

    /// Whether the caller has `role`.
    pub fn is(&self, role: Role) -> bool {
        self.role == role
    }

    /// The caller's person id; refused for service callers.
    pub fn person(&self) -> Result<Uuid, AuthError> {
        self.person_id
            .ok_or_else(|| AuthError::Forbidden("this needs a person's token".into()))
    }
}

/// Signs tokens (the gateway holds the private key).
#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    issuer: String,
    ttl: Duration,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("issuer", &self.issuer)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl TokenSigner {
    /// A signer with the given key, issuer and lifetime (capped at one hour).
    pub fn new(pair: &KeyPairDer, issuer: impl Into<String>, ttl: Duration) -> Self {
        Self {
            key: EncodingKey::from_ed_der(&pair.pkcs8),
            issuer: issuer.into(),
            ttl: ttl.min(Duration::from_secs(3600)),
        }
    }

    /// Token lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token for a person.
    pub fn person_token(&self, person_id: Uuid, role: Role, email: &str, name: &str) -> String {
        self.sign(Claims {
            iss: self.issuer.clone(),
            sub: person_id.to_string(),
            role,
            email: Some(email.to_string()),
            name: Some(name.to_string()),
            scope: String::new(),
            iat: 0,
            exp: 0,
            jti: String::new(),
        })
    }

    /// A token for an internal caller, e.g. `service_token("gateway", &["people.authenticate"])`.
    pub fn service_token(&self, name: &str, scopes: &[&str]) -> String {
        self.sign(Claims {
            iss: self.issuer.clone(),
            sub: format!("service:{name}"),
            role: Role::Service,
            email: None,
            name: None,
            scope: scopes.join(" "),
            iat: 0,
            exp: 0,
            jti: String::new(),
        })
    }

    /// Signs claims, setting `iat`, `exp` and `jti`.
    pub fn sign(&self, mut claims: Claims) -> String {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        claims.iat = now;
        claims.exp = now + self.ttl.as_secs() as i64;
        claims.jti = Uuid::now_v7().to_string();
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.key)
            .expect("Ed25519 signing of serializable claims cannot fail")
    }
}

/// Verifies tokens (every service). Only EdDSA with the platform key is accepted; `alg: none`,
/// HMAC and other keys are refused.
#[derive(Clone)]
pub struct TokenVerifier {
    key: Arc<DecodingKey>,
    validation: Arc<Validation>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier").finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// A verifier for tokens signed by the key whose raw public key is `public`.
    pub fn new(public: &[u8], issuer: &str) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        validation.validate_aud = false;
        Self {
            key: Arc::new(DecodingKey::from_ed_der(public)),
            validation: Arc::new(validation),
        }
    }

    /// Verifies a token and returns the caller.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".into()),
                ErrorKind::InvalidAlgorithm => AuthError::Invalid("algorithm not accepted".into()),
                ErrorKind::InvalidIssuer => AuthError::Invalid("unknown issuer".into()),
                _ => AuthError::Invalid(e.to_string()),
            },
        )?;
        let c = data.claims;
        let person_id = if c.role == Role::Service {
            None
        } else {
            Some(
                c.sub
                    .parse()
                    .map_err(|_| AuthError::Invalid("subject is not a person id".into()))?,
            )
        };
        Ok(Principal {
            subject: c.sub,
            person_id,
            role: c.role,
            email: c.email,
            name: c.name,
            scopes: c.scope.split_whitespace().map(str::to_string).collect(),
        })
    }

    /// Verifies the value of an `Authorization` header (`Bearer <token>`).
    pub fn verify_header(&self, value: Option<&str>) -> Result<Principal, AuthError> {
        let token = bearer(value.ok_or(AuthError::Missing)?)?;
        self.verify(token)
    }
}

/// The token of an `Authorization: Bearer <token>` value.
pub fn bearer(value: &str) -> Result<&str, AuthError> {
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| AuthError::Invalid("expected \"Bearer <token>\"".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Invalid("expected \"Bearer <token>\"".into()));
    }
    Ok(token.trim())
}

/// gRPC interceptor: verifies `authorization` on every call and puts the [`Principal`] in the
/// request's extensions; unauthenticated calls never reach the service.
#[derive(Clone, Debug)]
pub struct GrpcAuth {
    verifier: TokenVerifier,
}

impl GrpcAuth {
    /// An interceptor using `verifier`.
    pub fn new(verifier: TokenVerifier) -> Self {
        Self { verifier }
    }

    /// The caller of a request that passed the interceptor.
    pub fn principal<T>(req: &tonic::Request<T>) -> Result<Principal, tonic::Status> {
        req.extensions()
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| tonic::Status::unauthenticated("missing bearer token"))
    }
}

impl tonic::service::Interceptor for GrpcAuth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let value = req
            .metadata()
            .get("authorization")
            .map(|v| {
                v.to_str()
                    .map_err(|_| AuthError::Invalid("authorization is not ASCII".into()))
            })
            .transpose()?;
        let principal = self.verifier.verify_header(value)?;
        req.extensions_mut().insert(principal);
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn pair() -> (TokenSigner, TokenVerifier) {
        let k = keys::generate();
        (
            TokenSigner::new(&k, "lyceum", Duration::from_secs(60)),
            TokenVerifier::new(&k.public, "lyceum"),
        )
    }

    #[test]
    fn a_signed_token_verifies() {
        let (s, v) = pair();
        let id = Uuid::now_v7();
        let p = v
            .verify(&s.person_token(id, Role::Learner, "a@b.c", "A"))
            .unwrap();
        assert_eq!((p.person_id, p.role), (Some(id), Role::Learner));
        let p = v.verify(&s.service_token("gateway", &["x", "y"])).unwrap();
        assert_eq!(
            (p.person_id, p.role, p.scopes.len()),
            (None, Role::Service, 2)
        );
    }

    #[test]
    fn refuses_tampered_foreign_expired_and_none_tokens() {
        let (s, v) = pair();
        let (other, _) = pair();
        let token = s.person_token(Uuid::now_v7(), Role::Learner, "a@b.c", "A");

        // Tampered: the payload now claims admin.
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["role"] = "admin".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
            parts[2]
        );
        assert!(matches!(v.verify(&forged), Err(AuthError::Invalid(_))));

        // Signed by another key.
        let foreign = other.person_token(Uuid::now_v7(), Role::Admin, "a@b.c", "A");
        assert!(matches!(v.verify(&foreign), Err(AuthError::Invalid(_))));

        // alg: none.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert!(matches!(v.verify(&none), Err(AuthError::Invalid(_))));

        // Expired.
        let mut c: Claims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        c.iat -= 7200;
        let k = keys::generate();
        let signer = TokenSigner::new(&k, "lyceum", Duration::from_secs(60));
        let verifier = TokenVerifier::new(&k.public, "lyceum");
        let mut expired = c.clone();
        expired.exp = OffsetDateTime::now_utc().unix_timestamp() - 3600;
        let t =
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &expired, &signer.key).unwrap();
        assert_eq!(verifier.verify(&t).unwrap_err(), AuthError::Expired);

        // Garbage and missing.
        assert!(v.verify("not.a.token").is_err());
        assert_eq!(v.verify_header(None).unwrap_err(), AuthError::Missing);
        assert!(v.verify_header(Some("Basic abc")).is_err());
    }

    #[test]
    fn roles_are_checked() {
        let p = Principal {
            subject: "x".into(),
            person_id: Some(Uuid::nil()),
            role: Role::Learner,
            email: None,
            name: None,
            scopes: vec![],
        };
        assert!(p.require(&[Role::Learner, Role::Admin]).is_ok());
        let e = p.require(&[Role::Admin]).unwrap_err();
        assert!(!e.is_unauthenticated());
        assert_eq!(tonic::Status::from(e).code(), tonic::Code::PermissionDenied);
    }
}
